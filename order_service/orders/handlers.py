"""The order saga's answers: inventory_service's and payment_service's events.

The kit runs each handler in a transaction with its inbox record, drops redelivered messages,
retries a handler that raises and dead-letters it in the end; handlers only call services, which
are idempotent on the order's status (a repeated answer with a new message id changes nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from service_kit.messaging import Envelope, event_handler

from . import services


def _when(value: str) -> datetime:
    """An ISO 8601 time from a message (UTC when it names no offset)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _actor(envelope: Envelope) -> str:
    return f"{envelope.producer}:{envelope.type}"


@event_handler("inventory.reserved")
def on_inventory_reserved(envelope: Envelope) -> None:
    data = envelope.data
    services.reservation_reserved(
        order_id=UUID(data["order_id"]),
        reservation_id=UUID(data["reservation_id"]),
        expires_at=_when(data["expires_at"]),
        actor=_actor(envelope),
    )


@event_handler("inventory.rejected")
def on_inventory_rejected(envelope: Envelope) -> None:
    data = envelope.data
    services.reservation_rejected(
        order_id=UUID(data["order_id"]),
        reason=data.get("reason") or "",
        short=data["short"],
        actor=_actor(envelope),
    )


@event_handler("inventory.committed")
def on_inventory_committed(envelope: Envelope) -> None:
    services.reservation_committed(order_id=UUID(envelope.data["order_id"]))


@event_handler("inventory.released")
def on_inventory_released(envelope: Envelope) -> None:
    data = envelope.data
    services.reservation_released(
        order_id=UUID(data["order_id"]), reason=data["reason"], actor=_actor(envelope)
    )


@event_handler("payment.succeeded")
def on_payment_succeeded(envelope: Envelope) -> None:
    data = envelope.data
    services.payment_succeeded(
        order_id=UUID(data["order_id"]),
        payment_id=UUID(data["payment_id"]),
        amount=Decimal(data["amount"]),
        currency=data["currency"],
        actor=_actor(envelope),
    )


@event_handler("payment.failed")
def on_payment_failed(envelope: Envelope) -> None:
    data = envelope.data
    services.payment_failed(
        order_id=UUID(data["order_id"]), failure_code=data["failure_code"], actor=_actor(envelope)
    )


@event_handler("payment.refunded")
def on_payment_refunded(envelope: Envelope) -> None:
    data = envelope.data
    services.payment_refunded(
        order_id=UUID(data["order_id"]),
        refunded_amount=Decimal(data["refunded_amount"]),
        actor=_actor(envelope),
    )
