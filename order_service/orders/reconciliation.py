"""The periodic reconciliation: confirmed orders against payment_service's captured payments.

Reads every captured payment (``GET /api/v1/payments/?status=SUCCEEDED``, page by page, with
this service's token) and every CONFIRMED order, and records each disagreement once as an open
:class:`ReconciliationMismatch` (admin list) and in ``order_reconciliation_mismatches_total``.
An order still waiting for its payment's answer, or whose late payment is being refunded, is not
a mismatch. Committed stock is not compared yet (inventory has no batch read of reservations).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from service_kit.api import UpstreamUnavailable
from service_kit.auth.service_tokens import service_token
from service_kit.http import ServiceClient

from . import metrics
from .models import Order, OrderStatus, ReconciliationMismatch

logger = logging.getLogger(__name__)
Kind = ReconciliationMismatch.Kind
MAX_PAGES = 1000


def captured_payments() -> dict[str, dict]:
    """payment_service's captured payments by order id."""
    client = ServiceClient("payment", token_provider=service_token)
    found: dict[str, dict] = {}
    path, params = "/api/v1/payments/", {"status": "SUCCEEDED", "page_size": 100}
    for _ in range(MAX_PAGES):
        response = client.get(path, params=params)
        if response.status != 200:
            raise UpstreamUnavailable(
                details={"upstream": "payment", "reason": f"status_{response.status}"}
            )
        body = response.json()
        for payment in body["results"]:
            found[str(payment["order_id"])] = payment
        if not body.get("next"):
            break
        following = urlsplit(body["next"])
        path, params = following.path + "?" + following.query, None
    return found


def reconcile_payments() -> int:
    """Record the mismatches found now; returns how many new ones."""
    payments = captured_payments()
    confirmed = {
        str(o.pk): o for o in Order.objects.filter(status=OrderStatus.CONFIRMED).only("total")
    }
    found: list[tuple[str, str, dict]] = []
    for order_id, order in confirmed.items():
        payment = payments.get(order_id)
        if payment is None:
            found.append((order_id, Kind.CONFIRMED_NOT_CAPTURED, {"total": str(order.total)}))
        elif Decimal(str(payment["amount"])) != order.total:
            found.append(
                (
                    order_id,
                    Kind.AMOUNT_DIFFERS,
                    {"total": str(order.total), "captured": str(payment["amount"])},
                )
            )
    others = Order.objects.filter(pk__in=[p for p in payments if p not in confirmed])
    for order in others.exclude(status=OrderStatus.PAYMENT_PENDING).filter(
        refund_requested_at__isnull=True
    ):
        found.append(
            (
                str(order.pk),
                Kind.CAPTURED_NOT_CONFIRMED,
                {"status": order.status, "captured": str(payments[str(order.pk)]["amount"])},
            )
        )
    new = 0
    for order_id, kind, details in found:
        try:
            with transaction.atomic():
                ReconciliationMismatch.objects.create(order_id=order_id, kind=kind, details=details)
        except IntegrityError:
            continue  # already open
        metrics.mismatch(kind)
        new += 1
    logger.info("orders.reconciled", extra={"payments": len(payments), "mismatches": new})
    return new
