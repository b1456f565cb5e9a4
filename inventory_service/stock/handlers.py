"""product_service's events and the order saga's commands (docs/architecture.md#the-order-saga).

The kit runs each handler in a transaction with its inbox record, drops redelivered messages,
retries a handler that raises and dead-letters it in the end; handlers only call services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from service_kit.messaging import Envelope, command_handler, event_handler

from . import services


def _when(value: str) -> datetime:
    """An ISO 8601 time from a message (UTC when it names no offset)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@event_handler("product.created")
def on_product_created(envelope: Envelope) -> None:
    data = envelope.data
    services.stock_item_follow_catalogue(
        sku=data["sku"],
        product_id=UUID(data["product_id"]),
        is_active=data["is_active"],
        occurred_at=_when(envelope.occurred_at),
    )


@event_handler("product.updated")
def on_product_updated(envelope: Envelope) -> None:
    data = envelope.data
    services.stock_item_follow_catalogue(
        sku=data["sku"],
        product_id=UUID(data["product_id"]),
        is_active=data.get("is_active"),
        occurred_at=_when(envelope.occurred_at),
    )


@event_handler("product.deleted")
def on_product_deleted(envelope: Envelope) -> None:
    data = envelope.data
    services.stock_item_follow_catalogue(
        sku=data["sku"],
        product_id=UUID(data["product_id"]),
        is_active=False,
        occurred_at=_when(envelope.occurred_at),
    )


@command_handler("inventory.reserve")
def on_reserve(envelope: Envelope) -> None:
    data = envelope.data
    services.reservation_reserve(
        order_id=UUID(data["order_id"]),
        lines=data["lines"],
        expires_at=_when(data["expires_at"]) if data.get("expires_at") else None,
    )


@command_handler("inventory.commit")
def on_commit(envelope: Envelope) -> None:
    services.reservation_commit(order_id=UUID(envelope.data["order_id"]))


@command_handler("inventory.release")
def on_release(envelope: Envelope) -> None:
    services.reservation_release(
        order_id=UUID(envelope.data["order_id"]), reason=envelope.data.get("reason") or ""
    )
