"""The periodic reconciliation (docs/architecture.md#reconciliation): every recently finished
order against its payment in payment_service and its reservation in inventory_service.

Orders in a final state updated in the last ``hours`` are read in batches of :data:`BATCH`; for
each batch, one call to ``GET /api/v1/payments/?order_ids=…`` (scope ``payments:read``) and one to
``GET /api/v1/inventory/reservations/?order_ids=…`` (scope ``inventory:read``), both with this
service's token through the kit's client. The rules:

- CONFIRMED ⇔ a captured payment (SUCCEEDED or PARTIALLY_REFUNDED) of the order's amount and
  currency ⇔ a COMMITTED reservation. Missing capture: ``confirmed_not_captured``; another
  amount: ``amount_differs``; stock not committed: ``confirmed_not_committed``. A partial refund
  leaves an order CONFIRMED: its ``refunded_amount`` must be the payment's, else
  ``refund_differs`` (a refund the order never heard of).
- REJECTED, CANCELLED, FAILED, REFUNDED ⇔ no net capture (nothing captured, or all of it
  refunded): else ``captured_not_confirmed``; and, except REFUNDED (a staff refund after
  confirmation gives the money back, not the goods), no committed stock (the reservation is
  released, expired, rejected, still held until it expires, or absent): else
  ``committed_not_confirmed``.

A disagreement that a step still in flight explains (the commit sent but not acknowledged, a
refund asked for but not answered, a success on its way to a finished order) is not reported
while the order changed less than ``grace`` seconds ago; past that, it is.

Each mismatch is recorded once while open (:class:`ReconciliationMismatch`, the admin list; a
partial unique index keeps one open row per order and kind, so re-running adds nothing) and
counted in ``order_reconciliation_mismatches_total`` when first recorded. A service that does not
answer raises the kit's ``UpstreamUnavailable``: the run fails and nothing is recorded for the
batch it was reading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from service_kit.api import UpstreamUnavailable
from service_kit.auth import service_token
from service_kit.http import ServiceClient

from . import metrics
from .models import Order, OrderStatus, ReconciliationMismatch

logger = logging.getLogger(__name__)

S = OrderStatus
Kind = ReconciliationMismatch.Kind

#: Orders per batch: the ``order_ids`` limit of both services' batch reads.
BATCH = 100
#: Pages followed at most for one batch (each order has at most one payment and one reservation,
#: so one page of 100 is the expected case).
MAX_PAGES = 10
#: The final states compared.
FINAL = (S.CONFIRMED, S.REJECTED, S.CANCELLED, S.FAILED, S.REFUNDED)
#: Payment states in which money is held: the amount less what was refunded.
HELD = ("SUCCEEDED", "PARTIALLY_REFUNDED")
#: Defaults (seconds; settings ``RECONCILIATION_WINDOW`` and ``RECONCILIATION_GRACE`` override
#: them): how far back orders are compared, longer than the task's interval plus the grace so
#: that every order is compared at least once after it settled, and how long a step may be in
#: flight.
DEFAULT_WINDOW = 3600.0
DEFAULT_GRACE = 300.0

#: What the comparison reads of an order.
FIELDS = (
    "id",
    "status",
    "total",
    "currency",
    "paid_at",
    "stock_committed_at",
    "refund_requested_at",
    "refunded_at",
    "refunded_amount",
    "updated_at",
)

PAYMENTS_PATH = "/api/v1/payments/"
RESERVATIONS_PATH = "/api/v1/inventory/reservations/"


@dataclass
class Report:
    """One run: orders compared, disagreements seen (open ones included), newly recorded."""

    checked: int = 0
    found: list[tuple[str, str, dict]] = field(default_factory=list)
    new: int = 0


def _read_all(upstream: str, path: str, order_ids: list[str]) -> dict[str, dict]:
    """``upstream``'s rows for ``order_ids`` (every page), by order id."""
    client = ServiceClient(upstream, token_provider=service_token)
    found: dict[str, dict] = {}
    params: dict[str, Any] | None = {"order_ids": ",".join(order_ids), "page_size": BATCH}
    for _ in range(MAX_PAGES):
        response = client.get(path, params=params)
        if response.status != 200:
            logger.warning(
                "orders.reconcile_read_failed",
                extra={"upstream": upstream, "status": response.status},
            )
            raise UpstreamUnavailable(
                details={"upstream": upstream, "reason": f"status_{response.status}"}
            )
        body = response.json()
        for row in body["results"]:
            found[str(row["order_id"])] = row
        if not body.get("next"):
            break
        following = urlsplit(body["next"])
        path, params = f"{following.path}?{following.query}", None
    return found


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None


def net_capture(payment: dict | None) -> Decimal:
    """Money payment_service holds for the order now (0 when nothing, or all was refunded)."""
    if payment is None or payment.get("status") not in HELD:
        return Decimal("0")
    amount = _amount(payment.get("amount")) or Decimal("0")
    refunded = _amount(payment.get("refunded_amount")) or Decimal("0")
    return max(amount - refunded, Decimal("0"))


def compare(
    order: Order, payment: dict | None, reservation: dict | None, *, settling: bool
) -> list[tuple[str, dict]]:
    """The disagreements of one final order, as ``(kind, details)``; ``settling``: the order
    changed within the grace period, so a step still in flight explains some of them."""
    pay_status = payment.get("status") if payment else None
    stock_state = reservation.get("state") if reservation else None
    base = {
        "status": order.status,
        "total": str(order.total),
        "currency": order.currency,
        "payment": pay_status,
        "reservation": stock_state,
    }
    if order.status == S.CONFIRMED:
        found = _confirmed_payment_problems(order, payment, base, settling=settling)
        # In flight: inventory.commit sent, inventory.committed (or its refusal) not back yet.
        commit_pending = settling and order.stock_committed_at is None
        if stock_state != "COMMITTED" and not commit_pending:
            found.append((Kind.CONFIRMED_NOT_COMMITTED, base))
        return found
    return _unconfirmed_problems(order, payment, stock_state, base, settling=settling)


def _refund_pending(order: Order) -> bool:
    return order.refund_requested_at is not None and order.refunded_at is None


def _confirmed_payment_problems(
    order: Order, payment: dict | None, base: dict, *, settling: bool
) -> list[tuple[str, dict]]:
    """A confirmed order's payment: held, for the order's total, refunded as far as it knows."""
    pay_status = base["payment"]
    if payment is None or pay_status not in HELD:
        # A staff refund answered by payment_service, the order not yet told.
        if settling and _refund_pending(order) and pay_status == "REFUNDED":
            return []
        return [(Kind.CONFIRMED_NOT_CAPTURED, base)]
    if _amount(payment["amount"]) != order.total or payment.get("currency") != order.currency:
        details = {
            **base,
            "captured": str(payment["amount"]),
            "captured_currency": payment.get("currency"),
        }
        return [(Kind.AMOUNT_DIFFERS, details)]
    if order.refunded != (_amount(payment.get("refunded_amount")) or 0) and not settling:
        # A partial refund is no mismatch as long as the order was told of it (in flight:
        # payment.refunded on its way).
        details = {
            **base,
            "refunded": str(order.refunded),
            "payment_refunded": str(payment.get("refunded_amount")),
        }
        return [(Kind.REFUND_DIFFERS, details)]
    return []


def _unconfirmed_problems(
    order: Order, payment: dict | None, stock_state: str | None, base: dict, *, settling: bool
) -> list[tuple[str, dict]]:
    """A cancelled, failed or refunded order: no money held, no stock committed."""
    found: list[tuple[str, dict]] = []
    held = net_capture(payment)
    if held > 0:
        # A refund asked for and not yet answered, or a success on its way to a finished order
        # (refunded as late when it arrives).
        in_flight = _refund_pending(order) or order.paid_at is None
        if not (settling and in_flight):
            found.append((Kind.CAPTURED_NOT_CONFIRMED, {**base, "captured": str(held)}))
    if stock_state == "COMMITTED" and order.status != S.REFUNDED:
        found.append((Kind.COMMITTED_NOT_CONFIRMED, base))
    return found


def _record(order_id: str, kind: str, details: dict) -> bool:
    try:
        with transaction.atomic():
            ReconciliationMismatch.objects.create(order_id=order_id, kind=kind, details=details)
    except IntegrityError:
        return False  # already open
    metrics.mismatch(kind)
    return True


def reconcile_orders(*, window: float | None = None, grace: float | None = None) -> Report:
    """Compare the final orders updated in the last ``window`` seconds with payments and stock;
    record the new mismatches. ``grace``: seconds a step may be in flight (0: none may)."""
    window = (
        float(getattr(settings, "RECONCILIATION_WINDOW", DEFAULT_WINDOW))
        if window is None
        else window
    )
    grace = (
        float(getattr(settings, "RECONCILIATION_GRACE", DEFAULT_GRACE)) if grace is None else grace
    )
    now = timezone.now()
    settled_before = now - timedelta(seconds=grace)
    recent = Order.objects.filter(
        status__in=FINAL, updated_at__gte=now - timedelta(seconds=window)
    ).order_by("updated_at", "id")
    ids = [str(pk) for pk in recent.values_list("pk", flat=True)]
    report = Report()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        orders = Order.objects.filter(pk__in=batch, status__in=FINAL).only(*FIELDS)
        payments = _read_all("payment", PAYMENTS_PATH, batch)
        reservations = _read_all("inventory", RESERVATIONS_PATH, batch)
        for order in orders:
            key = str(order.pk)
            settling = order.updated_at > settled_before
            for kind, details in compare(
                order, payments.get(key), reservations.get(key), settling=settling
            ):
                report.found.append((key, str(kind), details))
                report.new += _record(key, kind, details)
            report.checked += 1
    logger.info(
        "orders.reconciled",
        extra={"orders": report.checked, "mismatches": len(report.found), "new": report.new},
    )
    return report
