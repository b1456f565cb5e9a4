"""Payload schemas, one per message type (events and commands), with their version.

Producers validate before they write the outbox; consumers validate before they apply, and send
a message that breaks its schema to dead letters instead of half-applying it. A service's own
message types are registered here in the kit, so producer and consumer read the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "version", "occurred_at", "producer", "data"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "minLength": 32, "maxLength": 36},
        "type": {"type": "string", "pattern": r"^[a-z_]+(\.[a-z_]+)+$"},
        "version": {"type": "integer", "minimum": 1},
        "occurred_at": {"type": "string", "minLength": 10},
        "producer": {"type": "string", "minLength": 1},
        "request_id": {"type": ["string", "null"]},
        "data": {"type": "object"},
    },
}


@dataclass(frozen=True)
class MessageType:
    name: str
    version: int
    schema: dict[str, Any]
    kind: str = "event"  # or "command"
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.schema)
        validator = Draft202012Validator(self.schema, format_checker=FORMAT_CHECKER)
        object.__setattr__(self, "validator", validator)

    def errors(self, data: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator.iter_errors(data)
        ]


class Registry(dict[str, MessageType]):
    def register(
        self, name: str, schema: dict[str, Any], *, version: int = 1, kind: str = "event"
    ) -> MessageType:
        message_type = MessageType(name=name, version=version, schema=schema, kind=kind)
        self[name] = message_type
        return message_type


registry = Registry()
envelope_validator = Draft202012Validator(ENVELOPE_SCHEMA, format_checker=FORMAT_CHECKER)

_uuid = {"type": "string", "format": "uuid", "minLength": 32, "maxLength": 36}
_email = {"type": "string", "minLength": 3, "maxLength": 254}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


# The platform's message types. Each owner issue extends its own.
registry.register(
    "user.registered",
    _obj(
        ["user_id", "email"],
        user_id=_uuid,
        email=_email,
        first_name={"type": "string"},
        last_name={"type": "string"},
    ),
)
registry.register(
    "user.updated",
    _obj(
        ["user_id"],
        user_id=_uuid,
        email=_email,
        first_name={"type": "string"},
        last_name={"type": "string"},
    ),
)
registry.register("user.deactivated", _obj(["user_id"], user_id=_uuid))
registry.register("user.erased", _obj(["user_id"], user_id=_uuid))
