"""Payload schemas, one per message type (events and commands), with their version.

Producers validate before they write the outbox; consumers validate before they apply, and send
a message that breaks its schema to dead letters instead of half-applying it. A service's own
message types are registered here in the kit, so producer and consumer read the same contract.

Each type also says who may send it, the one place that decides it: an event comes only from its
``owner`` (the service that produces it); a command is carried out by its ``owner`` (queue
``<owner>.<verb>``) and sent only by its ``senders``. Consumers check it against the broker's
authenticated sender (service_kit.messaging.consumer) and the broker definitions are validated
against it (service_kit.testing.delivery.compose).
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
    owner: str = ""  # the producing service (event) or the one that carries it out (command)
    senders: tuple[str, ...] = ()  # who may send it: the owner of an event, a command's callers
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
        self,
        name: str,
        schema: dict[str, Any],
        *,
        owner: str,
        senders: tuple[str, ...] = (),
        version: int = 1,
        kind: str = "event",
    ) -> MessageType:
        """``owner``: the service that publishes an event, or carries out a command (whose name
        is ``<owner>.<verb>``); ``senders``: the services that may send the command."""
        if kind == "event":
            senders = (owner,)
        elif not senders or name.split(".")[0] != owner:
            raise ValueError(f"command {name}: the owner is its prefix; name its senders")
        message_type = MessageType(
            name=name, version=version, schema=schema, kind=kind, owner=owner, senders=senders
        )
        self[name] = message_type
        return message_type

    def owned_by(self, service: str, kind: str) -> list[str]:
        return sorted(n for n, t in self.items() if t.kind == kind and t.owner == service)

    def sent_by(self, service: str) -> list[str]:
        """The commands ``service`` may send."""
        return sorted(n for n, t in self.items() if t.kind == "command" and service in t.senders)


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
    owner="auth",
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
    owner="auth",
)
registry.register("user.deactivated", _obj(["user_id"], user_id=_uuid), owner="auth")
registry.register("user.erased", _obj(["user_id"], user_id=_uuid), owner="auth")

# -- catalogue and stock ---------------------------------------------------------------------
_sku = {"type": "string", "minLength": 1, "maxLength": 64}
_money = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
_currency = {"type": "string", "pattern": "^[A-Z]{3}$"}
_quantity = {"type": "integer", "minimum": 1}
_lines = {
    "type": "array",
    "minItems": 1,
    "items": _obj(["sku", "quantity"], sku=_sku, quantity=_quantity),
}

registry.register(
    "product.created",
    _obj(
        ["product_id", "sku", "name", "price", "currency", "is_active"],
        product_id=_uuid,
        sku=_sku,
        name={"type": "string"},
        price=_money,
        currency=_currency,
        is_active={"type": "boolean"},
    ),
    owner="product",
)
registry.register(
    "product.updated",
    _obj(
        ["product_id", "sku"],
        product_id=_uuid,
        sku=_sku,
        name={"type": "string"},
        price=_money,
        currency=_currency,
        is_active={"type": "boolean"},
    ),
    owner="product",
)
registry.register(
    "product.deleted", _obj(["product_id", "sku"], product_id=_uuid, sku=_sku), owner="product"
)

# Commands to inventory_service (queues inventory.reserve, inventory.commit, inventory.release).
registry.register(
    "inventory.reserve",
    _obj(
        ["order_id", "lines"],
        order_id=_uuid,
        lines=_lines,
        expires_at={"type": "string", "format": "date-time"},
    ),
    owner="inventory",
    senders=("order",),
    kind="command",
)
registry.register(
    "inventory.commit",
    _obj(["order_id"], order_id=_uuid),
    owner="inventory",
    senders=("order",),
    kind="command",
)
registry.register(
    "inventory.release",
    _obj(["order_id"], order_id=_uuid, reason={"type": "string"}),
    owner="inventory",
    senders=("order",),
    kind="command",
)
# inventory_service's answers.
registry.register(
    "inventory.reserved",
    _obj(
        ["order_id", "reservation_id", "lines", "expires_at"],
        order_id=_uuid,
        reservation_id=_uuid,
        lines=_lines,
        expires_at={"type": "string", "format": "date-time"},
    ),
    owner="inventory",
)
registry.register(
    "inventory.rejected",
    _obj(
        ["order_id", "short"],
        order_id=_uuid,
        short={
            "type": "array",
            "items": _obj(
                ["sku", "requested", "available"],
                sku=_sku,
                requested=_quantity,
                available={"type": "integer", "minimum": 0},
            ),
        },
        reason={"type": "string"},
    ),
    owner="inventory",
)
registry.register(
    "inventory.committed",
    _obj(["order_id", "reservation_id"], order_id=_uuid, reservation_id=_uuid),
    owner="inventory",
)
registry.register(
    "inventory.released",
    _obj(
        ["order_id", "reservation_id", "reason"],
        order_id=_uuid,
        reservation_id=_uuid,
        reason={"type": "string"},
    ),
    owner="inventory",
)
registry.register(
    "stock.low",
    _obj(
        ["sku", "available", "threshold"],
        sku=_sku,
        available={"type": "integer", "minimum": 0},
        threshold={"type": "integer", "minimum": 0},
    ),
    owner="inventory",
)

# -- orders and payments (the saga) ----------------------------------------------------------
_token = {"type": "string", "minLength": 1, "maxLength": 200}
_order_lines = {
    "type": "array",
    "minItems": 1,
    "items": _obj(
        ["product_id", "sku", "quantity", "unit_price"],
        product_id=_uuid,
        sku=_sku,
        quantity=_quantity,
        unit_price=_money,
    ),
}

# Commands to payment_service (queues payment.charge, payment.refund).
registry.register(
    "payment.charge",
    _obj(
        ["order_id", "customer_id", "amount", "currency", "payment_token"],
        order_id=_uuid,
        customer_id=_uuid,
        amount=_money,
        currency=_currency,
        payment_token=_token,
    ),
    owner="payment",
    senders=("order",),
    kind="command",
)
registry.register(
    "payment.refund",
    _obj(
        ["order_id", "reason"],
        order_id=_uuid,
        amount=_money,
        reason={"type": "string"},
        # Names the refund request: the same when the step is sent again (refunded once).
        refund_key={"type": "string", "minLength": 1, "maxLength": 200},
    ),
    owner="payment",
    senders=("order",),
    kind="command",
)
# payment_service's answers.
registry.register(
    "payment.succeeded",
    _obj(
        ["order_id", "payment_id", "amount", "currency"],
        order_id=_uuid,
        payment_id=_uuid,
        amount=_money,
        currency=_currency,
    ),
    owner="payment",
)
registry.register(
    "payment.failed",
    _obj(
        ["order_id", "payment_id", "failure_code"],
        order_id=_uuid,
        payment_id=_uuid,
        failure_code={"type": "string"},
    ),
    owner="payment",
)
registry.register(
    "payment.refunded",
    _obj(
        ["order_id", "payment_id", "amount", "currency", "refunded_amount"],
        order_id=_uuid,
        payment_id=_uuid,
        amount=_money,
        currency=_currency,
        refunded_amount=_money,
        reason={"type": "string"},
    ),
    owner="payment",
)
# order_service's facts.
registry.register(
    "order.created",
    _obj(
        ["order_id", "customer_id", "total", "currency", "lines"],
        order_id=_uuid,
        customer_id=_uuid,
        total=_money,
        currency=_currency,
        lines=_order_lines,
    ),
    owner="order",
)
for _outcome in ("confirmed", "rejected", "cancelled", "failed", "refunded"):
    registry.register(
        f"order.{_outcome}",
        _obj(
            ["order_id", "customer_id"],
            order_id=_uuid,
            customer_id=_uuid,
            reason={"type": "string"},
        ),
        owner="order",
    )
