"""The versioned envelope every event and command travels in."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from service_kit.ops.context import current_request_id

from .schemas import envelope_validator, registry


class InvalidMessage(ValueError):
    """The message breaks the envelope or its payload schema."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    version: int
    occurred_at: str
    producer: str
    request_id: str | None
    data: dict[str, Any]

    @classmethod
    def new(cls, type: str, data: dict[str, Any]) -> Envelope:
        message_type = registry.get(type)
        if message_type is None:
            raise InvalidMessage(f"unknown message type {type!r}: register its schema in the kit")
        envelope = cls(
            id=str(uuid.uuid4()),
            type=type,
            version=message_type.version,
            occurred_at=datetime.now(UTC).isoformat(),
            producer=settings.SERVICE_NAME,
            request_id=current_request_id(),
            # Decimals, UUIDs and datetimes travel as the strings the schemas describe.
            data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        )
        envelope.validate()
        return envelope

    @classmethod
    def parse(cls, raw: Any) -> Envelope:
        """A received message, checked against the envelope and its payload schema."""
        if not isinstance(raw, dict):
            raise InvalidMessage("message is not a JSON object")
        errors = [e.message for e in envelope_validator.iter_errors(raw)]
        if errors:
            raise InvalidMessage("; ".join(errors))
        envelope = cls(**{k: raw.get(k) for k in cls.__dataclass_fields__})
        envelope.validate()
        return envelope

    def validate(self) -> None:
        message_type = registry.get(self.type)
        if message_type is None:
            raise InvalidMessage(f"unknown message type {self.type!r}")
        if self.version != message_type.version:
            raise InvalidMessage(
                f"{self.type} version {self.version} is not the known {message_type.version}"
            )
        errors = message_type.errors(self.data)
        if errors:
            raise InvalidMessage("; ".join(errors))

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
