"""Writes: placing an order and the order saga (docs/architecture.md#the-order-saga).

Every status change goes through :func:`order_transition`, the one place that knows the allowed
transitions, records the step in the history, announces the order's fact event and counts it.
A transition to the status the order already has changes nothing and returns ``False``: the
callers send their commands only when it returns ``True``, so a message delivered twice (the kit's
inbox drops the same message id; inventory and payment re-announce an outcome with a new id when
a command is repeated) makes one transition and one side effect. Every function here locks the
order's row first (``SELECT … FOR UPDATE``), so two answers about one order never interleave.

Compensations (``inventory.release``, ``payment.refund``) are sent at most once per order: a
release only with the transition that ends the order, a refund guarded by ``refund_requested_at``.
Commands and events go through the outbox in the transaction that changed the order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from service_kit.audit import audit_record, reason_required
from service_kit.console import admin_href
from service_kit.messaging import publish_event, send_command

from . import catalogue, metrics
from .errors import InvalidInput, OrderNotFound, TransitionNotAllowed
from .models import Order, OrderLine, OrderStatus, OrderTransition

logger = logging.getLogger(__name__)

S = OrderStatus

#: The saga's state machine: from each status, where it may go.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PAYMENT_PENDING, S.REJECTED, S.CANCELLED, S.FAILED}),
    S.PAYMENT_PENDING: frozenset({S.CONFIRMED, S.CANCELLED, S.FAILED}),
    # A commit refused for a released reservation fails a confirmed order (refunded); a staff
    # refund of a confirmed order ends it REFUNDED once payment_service says all of it is back
    # (a partial refund leaves it CONFIRMED, with its refunded_amount).
    S.CONFIRMED: frozenset({S.REFUNDED, S.FAILED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.REFUNDED: frozenset(),
}
#: Where the saga ends (its duration is measured up to the first of them).
SAGA_ENDS = frozenset({S.CONFIRMED, S.REJECTED, S.CANCELLED, S.FAILED, S.REFUNDED})
#: The order's fact event for each status reached.
STATUS_EVENTS: dict[str, str] = {
    S.CONFIRMED: "order.confirmed",
    S.REJECTED: "order.rejected",
    S.CANCELLED: "order.cancelled",
    S.FAILED: "order.failed",
    S.REFUNDED: "order.refunded",
}
#: Statuses a customer may cancel from; staff may also ask for a refund of a CONFIRMED order.
CANCELLABLE = frozenset({S.PENDING, S.PAYMENT_PENDING})
WAITING = frozenset({S.PENDING, S.PAYMENT_PENDING})
#: Most lines (distinct products) in one order: product_service's batch limit.
MAX_LINES = catalogue.BATCH_MAX

ACTOR_DEADLINE = "order:deadline"
CREATED = "created"


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# -- the one transition function -------------------------------------------------------------------


def order_transition(*, order: Order, to: str, reason: str, actor: str) -> bool:
    """Move a locked ``order`` to ``to``; ``False`` when it is there already (nothing done).

    Raises :class:`TransitionNotAllowed` for a step the state machine does not have. Records the
    :class:`OrderTransition`, saves the order (with any field the caller changed), announces the
    status's event and counts it, all in the caller's transaction."""
    current = order.status
    if current == to:
        return False
    if to not in ALLOWED_TRANSITIONS[current]:
        raise TransitionNotAllowed(
            f"An order in {current} cannot become {to}.", details={"from": current, "to": to}
        )
    now = timezone.now()
    order.status = to
    if to not in WAITING:
        # The card token lives only while a charge may still be sent (a retried step).
        order.payment_token = ""
    if to in SAGA_ENDS and order.finished_at is None:
        order.finished_at = now
        metrics.saga_finished(to, (now - order.created_at).total_seconds())
    order.save()
    OrderTransition.objects.create(
        order=order, from_status=current, to_status=to, at=now, reason=reason[:500], actor=actor
    )
    if to in STATUS_EVENTS:
        publish_event(
            STATUS_EVENTS[to],
            {"order_id": order.pk, "customer_id": order.customer_id, "reason": reason[:500]},
        )
    metrics.transition(current, to)
    logger.info(
        "order.transition",
        extra={"order_id": str(order.pk), "from": current, "to": to, "actor": actor},
    )
    return True


# -- placing an order ------------------------------------------------------------------------------


def order_place(
    *,
    customer_id: UUID | str,
    customer_email: str,
    lines: Iterable[Mapping[str, Any]],
    shipping_address: Mapping[str, Any],
    payment_token: str,
    actor: str,
) -> Order:
    """Price the lines from the catalogue (one batch read, before any write), store the order
    PENDING with ``order.created`` and ``inventory.reserve`` in the outbox, in one transaction.

    ``lines``: ``[{product_id, quantity}]``; a product named twice is one line. An unknown or
    inactive product is a validation error naming its line; lines in more than one currency too.
    product_service not answering raises ``UpstreamUnavailable``/``UpstreamTimeout`` and nothing
    is written."""
    wanted: dict[UUID, int] = {}
    first_index: dict[UUID, int] = {}
    for index, line in enumerate(lines):
        product_id = UUID(str(line["product_id"]))
        first_index.setdefault(product_id, index)
        wanted[product_id] = wanted.get(product_id, 0) + int(line["quantity"])
    if not wanted:
        raise InvalidInput(details={"lines": ["An order has at least one line."]})
    if len(wanted) > MAX_LINES:
        raise InvalidInput(details={"lines": [f"At most {MAX_LINES} products in one order."]})
    products = catalogue.products_get(ids=wanted)
    problems: dict[str, list[str]] = {}
    for product_id, index in first_index.items():
        product = products.get(product_id)
        if product is None or not product.is_active:
            problems[f"lines[{index}].product_id"] = [
                f"Product {product_id} does not exist or is not for sale."
            ]
    if problems:
        raise InvalidInput(details=problems)
    currencies = {products[p].currency for p in wanted}
    if len(currencies) != 1:
        raise InvalidInput(details={"lines": ["The products of one order share one currency."]})
    now = timezone.now()
    rows = [
        OrderLine(
            product_id=product_id,
            sku=products[product_id].sku,
            name=products[product_id].name[:200],
            unit_price=products[product_id].price,
            quantity=quantity,
            line_total=products[product_id].price * quantity,
        )
        for product_id, quantity in wanted.items()
    ]
    total = sum((row.line_total for row in rows), Decimal("0.00"))
    with transaction.atomic():
        order = Order.objects.create(
            customer_id=customer_id,
            customer_email=customer_email[:254],
            status=S.PENDING,
            total=total,
            currency=currencies.pop(),
            shipping_address=dict(shipping_address),
            payment_token=payment_token,
            deadline_at=now + timedelta(seconds=settings.RESERVE_DEADLINE),
            reservation_expires_at=now + timedelta(seconds=settings.RESERVATION_EXPIRY),
        )
        for row in rows:
            row.order = order
        OrderLine.objects.bulk_create(rows)
        created = OrderTransition.objects.create(
            order=order, from_status="", to_status=S.PENDING, at=now, reason=CREATED, actor=actor
        )
        publish_event(
            "order.created",
            {
                "order_id": order.pk,
                "customer_id": customer_id,
                "total": money(total),
                "currency": order.currency,
                "lines": [
                    {
                        "product_id": row.product_id,
                        "sku": row.sku,
                        "quantity": row.quantity,
                        "unit_price": money(row.unit_price),
                    }
                    for row in rows
                ],
            },
        )
        _send_reserve(order, rows)
        metrics.transition("", S.PENDING)
    logger.info(
        "order.created",
        extra={"order_id": str(order.pk), "customer_id": str(customer_id), "total": str(total)},
    )
    # Its lines and history are the rows just written: the answer needs no second read of them
    # (what prefetch_related would have put there: the serializer's .all() reads this cache).
    order._prefetched_objects_cache = {"lines": rows, "transitions": [created]}  # type: ignore[attr-defined]  # Django sets it on a model when it prefetches
    return order


def _send_reserve(order: Order, rows: Iterable[OrderLine]) -> None:
    expires_at = order.reservation_expires_at
    if expires_at is None:  # set when the order is placed
        raise ValueError(f"order {order.pk} has no reservation deadline")
    send_command(
        "inventory.reserve",
        {
            "order_id": order.pk,
            "lines": [{"sku": row.sku, "quantity": row.quantity} for row in rows],
            "expires_at": expires_at.isoformat(),
        },
    )


# -- inventory's answers ---------------------------------------------------------------------------


def _locked(order_id: UUID) -> Order | None:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        logger.warning("order.unknown", extra={"order_id": str(order_id)})
    return order


def _ignored(order: Order, message: str) -> None:
    logger.info(
        "order.message_ignored",
        extra={"order_id": str(order.pk), "status": order.status, "answer": message},
    )


def reservation_reserved(
    *, order_id: UUID, reservation_id: UUID, expires_at: datetime, actor: str
) -> Order | None:
    """``inventory.reserved``: PENDING → PAYMENT_PENDING, ``payment.charge`` sent and the payment
    deadline set (never past the reservation's expiry). The order keeps the card token until the
    payment answers (a retried step sends the charge again); the outbox row drops it once
    published."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        if order.status != S.PENDING:
            _ignored(order, "inventory.reserved")
            return order
        now = timezone.now()
        order.reservation_id = reservation_id
        order.reservation_expires_at = expires_at
        order.deadline_at = min(now + timedelta(seconds=settings.PAYMENT_DEADLINE), expires_at)
        order_transition(order=order, to=S.PAYMENT_PENDING, reason="stock reserved", actor=actor)
        _send_charge(order)
    return order


def _send_charge(order: Order) -> None:
    send_command(
        "payment.charge",
        {
            "order_id": order.pk,
            "customer_id": order.customer_id,
            "amount": money(order.total),
            "currency": order.currency,
            "payment_token": order.payment_token,
        },
    )


def reservation_rejected(
    *, order_id: UUID, reason: str, short: list[Mapping[str, Any]], actor: str
) -> Order | None:
    """``inventory.rejected``: a PENDING order is REJECTED (no charge was asked for). For a
    CONFIRMED order it is a refused commit (its reservation was released or expired): the order
    FAILED and the payment is refunded."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        if order.status == S.PENDING:
            detail = ", ".join(
                f"{line['sku']} (requested {line['requested']}, available {line['available']})"
                for line in short
            )
            why = reason or "insufficient_stock"
            order.deadline_at = None
            order_transition(
                order=order,
                to=S.REJECTED,
                reason=f"{why}: {detail}" if detail else why,
                actor=actor,
            )
        elif order.status == S.CONFIRMED and order.stock_committed_at is None:
            order_transition(
                order=order,
                to=S.FAILED,
                reason=f"stock commit refused: {reason or 'unknown'}",
                actor=actor,
            )
            _refund(order, reason="stock commit refused")
        else:
            _ignored(order, "inventory.rejected")
    return order


def reservation_committed(*, order_id: UUID) -> Order | None:
    """``inventory.committed``: the order's stock left the warehouse's books."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is not None and order.stock_committed_at is None:
            order.stock_committed_at = timezone.now()
            order.save(update_fields=["stock_committed_at", "updated_at"])
    return order


def reservation_released(*, order_id: UUID, reason: str, actor: str) -> Order | None:
    """``inventory.released``: acknowledged after a compensation. A reservation released under
    an order still waiting for its payment (it expired) fails the order; a payment that still
    succeeds afterwards is refunded as late."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        if order.stock_released_at is None:
            order.stock_released_at = timezone.now()
            order.save(update_fields=["stock_released_at", "updated_at"])
        if order.status == S.PAYMENT_PENDING:
            order.deadline_at = None
            order_transition(
                order=order, to=S.FAILED, reason=f"reservation {reason or 'released'}", actor=actor
            )
    return order


# -- payment's answers -----------------------------------------------------------------------------


def payment_succeeded(
    *, order_id: UUID, payment_id: UUID, amount: Decimal, currency: str, actor: str
) -> Order | None:
    """``payment.succeeded``: PAYMENT_PENDING → CONFIRMED with ``inventory.commit``. A success
    for an order that already ended (failed at its deadline, cancelled, rejected) is refunded;
    one for the wrong amount fails the order, releases the stock and is refunded."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        first = order.paid_at is None
        if first:
            order.paid_at = timezone.now()
            order.payment_id = payment_id
            order.save(update_fields=["paid_at", "payment_id", "updated_at"])
        if order.status == S.PAYMENT_PENDING:
            if amount != order.total or currency != order.currency:
                logger.error(
                    "order.payment_amount_mismatch",
                    extra={"order_id": str(order.pk), "amount": str(amount), "currency": currency},
                )
                order.deadline_at = None
                order_transition(
                    order=order,
                    to=S.FAILED,
                    reason=f"payment of {amount} {currency} does not match the order",
                    actor=actor,
                )
                _release(order, reason="payment_mismatch")
                _refund(order, reason="payment does not match the order")
                return order
            metrics.payment_outcome("succeeded")
            order.deadline_at = None
            order_transition(order=order, to=S.CONFIRMED, reason="payment captured", actor=actor)
            send_command("inventory.commit", {"order_id": order.pk})
        elif order.status in (S.CONFIRMED, S.REFUNDED):
            _ignored(order, "payment.succeeded")
        else:
            if first:
                metrics.payment_outcome("late")
            if _refund(order, reason=f"payment arrived after the order was {order.status}"):
                logger.warning(
                    "order.late_payment_refunded",
                    extra={"order_id": str(order.pk), "status": order.status},
                )
    return order


def payment_failed(*, order_id: UUID, failure_code: str, actor: str) -> Order | None:
    """``payment.failed``: PAYMENT_PENDING → CANCELLED, the stock released."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        if order.status != S.PAYMENT_PENDING:
            _ignored(order, "payment.failed")
            return order
        metrics.payment_outcome("failed")
        order.deadline_at = None
        order_transition(
            order=order, to=S.CANCELLED, reason=f"payment failed: {failure_code}", actor=actor
        )
        _release(order, reason="payment_failed")
    return order


def payment_refunded(*, order_id: UUID, refunded_amount: Decimal, actor: str) -> Order | None:
    """``payment.refunded``: money is back. ``refunded_amount`` is what payment_service has given
    back in all; the order keeps it (the largest seen: answers may arrive out of order). A
    CONFIRMED order becomes REFUNDED only once all of its total is back; after a partial refund it
    stays CONFIRMED (the customer keeps the goods) and shows the amount, as its payment does."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            return None
        if refunded_amount > order.refunded:
            order.refunded_amount = refunded_amount
            fields = ["refunded_amount", "updated_at"]
            if refunded_amount >= order.total and order.refunded_at is None:
                order.refunded_at = timezone.now()
                fields.append("refunded_at")
                metrics.payment_outcome("refunded")
            order.save(update_fields=fields)
            logger.info(
                "order.refund_recorded",
                extra={"order_id": str(order.pk), "refunded_amount": str(refunded_amount)},
            )
        if order.status == S.CONFIRMED and order.refunded >= order.total:
            order_transition(order=order, to=S.REFUNDED, reason="payment refunded", actor=actor)
    return order


# -- compensations ---------------------------------------------------------------------------------


def _release(order: Order, *, reason: str) -> None:
    send_command("inventory.release", {"order_id": order.pk, "reason": reason})
    metrics.compensation("release")


def _refund(order: Order, *, reason: str) -> bool:
    """Ask payment_service for the whole amount back, once per order; whether it was sent."""
    if order.refund_requested_at is not None:
        return False
    order.refund_requested_at = timezone.now()
    order.save(update_fields=["refund_requested_at", "updated_at"])
    _send_refund(order, reason)
    metrics.compensation("refund")
    return True


def _send_refund(order: Order, reason: str) -> None:
    # One refund per order: sent again (a retried step), payment_service refunds it once.
    send_command(
        "payment.refund",
        {
            "order_id": order.pk,
            "amount": money(order.total),
            "reason": reason,
            "refund_key": f"order:{order.pk}",
        },
    )


# -- timers ----------------------------------------------------------------------------------------


def orders_fail_overdue(*, limit: int | None = None) -> int:
    """Fail every waiting order past its deadline (the periodic task); returns how many.

    Each in its own short transaction, so one stuck row never holds the others back."""
    limit = limit or settings.DEADLINE_CHECK_BATCH
    due = (
        Order.objects.filter(status__in=WAITING, deadline_at__lte=timezone.now())
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )
    failed = sum(order_fail_overdue(order_id=pk) for pk in list(due))
    if failed:
        logger.info("orders.deadline_failed", extra={"count": failed})
    return failed


def order_fail_overdue(*, order_id: UUID) -> bool:
    """FAILED if still waiting and past its deadline: the stock released (a reserve still on its
    way finds the release first and holds nothing) and any capture refunded."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .filter(pk=order_id, status__in=WAITING, deadline_at__lte=timezone.now())
            .first()
        )
        if order is None:  # answered meanwhile
            return False
        step = "reservation" if order.status == S.PENDING else "payment"
        order.deadline_at = None
        order_transition(
            order=order, to=S.FAILED, reason=f"{step} deadline passed", actor=ACTOR_DEADLINE
        )
        _release(order, reason="deadline")
        if order.paid_at is not None:
            _refund(order, reason="deadline passed")
    return True


# -- people's actions: cancel, refund, retry -------------------------------------------------------


def order_cancel(*, order_id: UUID, actor: str, staff: bool, reason: str = "") -> Order:
    """Cancel before confirmation (the stock released, a capture refunded). Staff may also
    cancel a CONFIRMED order: that asks for a refund, and the order becomes REFUNDED when
    payment_service answers ``payment.refunded``. Cancelling a cancelled order changes nothing."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            raise OrderNotFound()
        if order.status in CANCELLABLE:
            order.deadline_at = None
            order_transition(
                order=order, to=S.CANCELLED, reason=reason or "cancelled on request", actor=actor
            )
            _release(order, reason="cancelled")
            if order.paid_at is not None:
                _refund(order, reason="order cancelled")
        elif order.status == S.CONFIRMED and staff:
            # money goes back: staff say why (the audit trail)
            _refund_requested(order, reason=reason_required(reason), actor=actor)
        elif order.status != S.CANCELLED:
            raise TransitionNotAllowed(
                f"An order in {order.status} cannot be cancelled"
                + ("." if staff else " by its customer."),
                details={"from": order.status, "to": S.CANCELLED},
            )
    return order


def order_refund(*, order_id: UUID, actor: str, reason: str = "") -> Order:
    """Staff: refund a CONFIRMED order in full (→ REFUNDED on ``payment.refunded``)."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            raise OrderNotFound()
        if order.status != S.CONFIRMED:
            raise TransitionNotAllowed(
                f"Only a CONFIRMED order is refunded, not one in {order.status}.",
                details={"from": order.status, "to": S.REFUNDED},
            )
        _refund_requested(order, reason=reason_required(reason), actor=actor)
    return order


def _refund_requested(order: Order, *, reason: str, actor: str) -> None:
    if _refund(order, reason=reason):
        logger.info("order.refund_requested", extra={"order_id": str(order.pk), "actor": actor})
        if actor.startswith("staff:"):  # a staff action that moves money: the audit trail
            audit_record(
                actor=actor.removeprefix("staff:"),
                action="refund",
                target=f"order {order.pk}",
                target_url=admin_href("order", "orders", "order", order.pk),
                reason=reason,
                details={"amount": f"{order.total:.2f}", "currency": order.currency},
            )


def order_retry_step(*, order_id: UUID, actor: str) -> str:
    """Send again the command the order waits on (a stuck step); returns its name.

    The targets answer a repeated command with the outcome they already reached, and the handlers
    here are idempotent, so a retry never doubles an effect."""
    with transaction.atomic():
        order = _locked(order_id)
        if order is None:
            raise OrderNotFound()
        command = _retry(order)
        if command is None:
            raise TransitionNotAllowed(
                f"An order in {order.status} waits for nothing.", details={"from": order.status}
            )
    logger.info(
        "order.step_retried", extra={"order_id": str(order.pk), "command": command, "actor": actor}
    )
    return command


def _retry(order: Order) -> str | None:
    if order.status == S.PENDING:
        _send_reserve(order, order.lines.all())
        return "inventory.reserve"
    if order.status == S.PAYMENT_PENDING and order.payment_token:
        _send_charge(order)
        return "payment.charge"
    if order.refund_requested_at is not None and order.refunded_at is None:
        _send_refund(order, "retried")
        return "payment.refund"
    if order.status == S.CONFIRMED and order.stock_committed_at is None:
        send_command("inventory.commit", {"order_id": order.pk})
        return "inventory.commit"
    if order.status in (S.CANCELLED, S.FAILED) and order.stock_released_at is None:
        _release(order, reason="retried")
        return "inventory.release"
    return None
