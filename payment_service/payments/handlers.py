"""The order saga's commands to payment_service (docs/architecture.md#the-order-saga).

The kit runs each handler in a transaction with its inbox record, drops redelivered messages,
retries a handler that raises (on the command's own queue) and dead-letters it in the end;
handlers only call services.
"""

from __future__ import annotations

from uuid import UUID

from service_kit.messaging import Envelope, command_handler

from . import services


@command_handler("payment.charge")
def on_charge(envelope: Envelope) -> None:
    data = envelope.data
    services.payment_charge(
        order_id=UUID(data["order_id"]),
        customer_id=UUID(data["customer_id"]),
        amount=data["amount"],
        currency=data["currency"],
        payment_token=data["payment_token"],
    )


@command_handler("payment.refund")
def on_refund(envelope: Envelope) -> None:
    data = envelope.data
    services.refund_compensate(
        order_id=UUID(data["order_id"]),
        request_key=data.get("refund_key") or envelope.id,
        amount=data.get("amount"),
        reason=data.get("reason") or "",
    )
