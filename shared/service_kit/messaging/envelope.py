"""The versioned envelope every event and command travels in."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from service_kit import tracing
from service_kit.context import current_request_id

from .schemas import Contract, envelope_validator, parse_version, registry


class InvalidMessage(ValueError):
    """The message breaks the envelope or its payload schema."""


class UnknownVersion(InvalidMessage):
    """The message's major version is not one this service knows (a newer producer)."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    version: int | str  # "MAJOR.MINOR"; an integer N (the release before this one) is N.0
    occurred_at: str
    producer: str
    request_id: str | None
    data: dict[str, Any]
    #: The W3C trace context it was written in (``traceparent``, ``tracestate``), when traced.
    trace: dict[str, str] | None = None

    @classmethod
    def new(cls, type: str, data: dict[str, Any], *, major: int | None = None) -> Envelope:
        """A message of ``type`` at its latest major, or at ``major`` (a producer emits two
        majors side by side during a migration: one ``new`` each)."""
        message_type = registry.get(type)
        if message_type is None:
            raise InvalidMessage(f"unknown message type {type!r}: add its contract file")
        contract = message_type.contracts.get(major or max(message_type.contracts))
        if contract is None:
            raise InvalidMessage(f"{type} has no major {major}")
        envelope = cls(
            id=str(uuid.uuid4()),
            type=type,
            version=wire_version(contract),
            occurred_at=datetime.now(UTC).isoformat(),
            producer=settings.SERVICE_NAME,
            request_id=current_request_id(),
            # Decimals, UUIDs and datetimes travel as the strings the schemas describe.
            data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
            trace=tracing.carrier(),
        )
        envelope.validate()
        return envelope

    @classmethod
    def parse(cls, raw: Any) -> Envelope:
        """A received message, checked against the envelope and its major's payload schema,
        its data given the defaults of the optional fields an older minor lacks."""
        if not isinstance(raw, dict):
            raise InvalidMessage("message is not a JSON object")
        errors = [e.message for e in envelope_validator.iter_errors(raw)]
        if errors:
            raise InvalidMessage("; ".join(errors))
        fields: dict[str, Any] = {k: raw.get(k) for k in cls.__dataclass_fields__}
        envelope = cls(**fields)
        contract = envelope.validate()
        return replace(envelope, data=contract.defaulted(envelope.data))

    @property
    def major(self) -> int:
        return parse_version(self.version)[0]

    def validate(self) -> Contract:
        """The contract the message meets (raises :class:`InvalidMessage`, or
        :class:`UnknownVersion` for a major this service does not know)."""
        message_type = registry.get(self.type)
        if message_type is None:
            raise InvalidMessage(f"unknown message type {self.type!r}")
        try:
            major = self.major
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from exc
        contract = message_type.contracts.get(major)
        if contract is None:
            known = ", ".join(map(str, sorted(message_type.contracts)))
            raise UnknownVersion(
                f"{self.type} version {self.version}: major {major} is unknown here "
                f"(known: {known}); deploy this service with the new contract, then replay"
            )
        # Tolerant reader: any minor of the major; fields the schema does not name are ignored.
        errors = contract.errors(self.data)
        if errors:
            raise InvalidMessage("; ".join(errors))
        return contract

    def as_dict(self) -> dict[str, Any]:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if fields["trace"] is None:
            del fields["trace"]  # untraced: the envelope the release before this one wrote
        return fields


def wire_version(contract: Contract) -> int | str:
    """The version a new message carries: "MAJOR.MINOR", or while the release before this one
    may still consume (``MESSAGING_VERSION_FORMAT=integer``, this release's default) the
    integer major it compares exactly."""
    if settings.MESSAGING.get("VERSION_FORMAT", "integer") == "integer":
        return contract.major
    return contract.version
