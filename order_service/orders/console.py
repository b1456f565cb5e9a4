"""The order service's figures on the staff front page (service_kit.console.api)."""

from __future__ import annotations

from django.utils import timezone

from service_kit.console import Figure, admin_href

from .models import Order, ReconciliationMismatch
from .services import WAITING


def waiting_orders(state: str):
    """``waiting``: orders waiting for a step within their deadline; ``stuck``: past it (the
    periodic task fails those; one still here means it is not running)."""
    orders = Order.objects.filter(status__in=WAITING)
    passed = {"deadline_at__lte": timezone.now()}
    return orders.filter(**passed) if state == "stuck" else orders.exclude(**passed)


def figures() -> list[Figure]:
    def orders_url(state: str) -> str:
        return admin_href("order", "orders", "order", query={"saga": state})

    return [
        Figure(
            "orders_waiting",
            "Orders waiting",
            waiting_orders("waiting").count(),
            orders_url("waiting"),
        ),
        Figure(
            "orders_stuck",
            "Orders stuck past their deadline",
            waiting_orders("stuck").count(),
            orders_url("stuck"),
        ),
        Figure(
            "mismatches_open",
            "Reconciliation mismatches open",
            ReconciliationMismatch.objects.filter(resolved_at__isnull=True).count(),
            admin_href(
                "order",
                "orders",
                "reconciliationmismatch",
                query={"resolved_at__isnull": "True"},
            ),
        ),
    ]
