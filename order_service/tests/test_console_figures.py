"""The order service's figures on the staff front page: orders waiting, those stuck past their
deadline and the reconciliation mismatches open, each counted as its admin link lists them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from orders.models import OrderStatus, ReconciliationMismatch

from .factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_the_figures_count_what_their_admin_links_list(client, mint, admin_client):
    past = timezone.now() - timedelta(minutes=5)
    waiting = [OrderFactory(), OrderFactory(status=OrderStatus.PAYMENT_PENDING)]
    stuck = OrderFactory(status=OrderStatus.PAYMENT_PENDING, deadline_at=past)
    OrderFactory(status=OrderStatus.CONFIRMED, deadline_at=None)
    OrderFactory(status=OrderStatus.FAILED, deadline_at=past)  # ended: nothing to do
    ReconciliationMismatch.objects.create(order_id=uuid.uuid4(), kind="amount_differs")
    ReconciliationMismatch.objects.create(
        order_id=uuid.uuid4(), kind="amount_differs", resolved_at=timezone.now()
    )

    answer = client.get(
        "/api/v1/console/figures/", **mint.headers(client_id="gateway", scopes=["console:read"])
    )

    assert answer.status_code == 200
    figures = {row["key"]: row for row in answer.json()["figures"]}
    assert {key: row["count"] for key, row in figures.items()} == {
        "orders_waiting": 2,
        "orders_stuck": 1,
        "mismatches_open": 1,
        "dead_letters": 0,
    }
    assert figures["orders_stuck"]["url"] == "/admin/orders/orders/order/?saga=stuck"
    # the same link in this admin (without the gateway's /orders segment) lists those rows
    for key, expected in (("orders_stuck", [stuck]), ("orders_waiting", waiting)):
        path = figures[key]["url"].removeprefix("/admin/orders")
        listed = admin_client.get(f"/admin{path}").context["cl"].result_list
        assert {order.pk for order in listed} == {order.pk for order in expected}
    path = figures["mismatches_open"]["url"].removeprefix("/admin/orders")
    assert len(admin_client.get(f"/admin{path}").context["cl"].result_list) == 1
