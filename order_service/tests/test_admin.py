"""The order admin: by state, date, id and email; lines and history inline; actions through the
saga's own services."""

import uuid

import pytest
from orders.models import OrderStatus

from platform_tools.testing.permissions import admin_sign_in
from service_kit.models import AuditEntry

from .factories import OrderFactory, OrderTransitionFactory
from .helpers import published

pytestmark = pytest.mark.django_db

ORDERS = "/admin/orders/order/"


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_orders_by_state_and_searched_by_id_or_email(admin_client):
    confirmed = OrderFactory(status=OrderStatus.CONFIRMED, customer_email="grace@example.com")
    pending = OrderFactory(status=OrderStatus.PENDING)

    assert listed(admin_client.get(ORDERS, {"status__exact": "CONFIRMED"})) == [confirmed]
    assert listed(admin_client.get(ORDERS, {"q": "grace@example.com"})) == [confirmed]
    assert listed(admin_client.get(ORDERS, {"q": str(pending.pk)})) == [pending]


def test_the_order_page_shows_lines_and_history_but_not_the_payment_token(admin_client):
    order = OrderFactory(payment_token="tok_secret")
    OrderTransitionFactory(order=order, reason="created by test")

    response = admin_client.get(f"{ORDERS}{order.pk}/change/")

    assert response.status_code == 200
    assert b"created by test" in response.content
    assert order.lines.get().sku.encode() in response.content
    assert b"tok_secret" not in response.content


@pytest.mark.parametrize(
    ("action", "status", "sent"),
    [
        ("cancel_orders", OrderStatus.PAYMENT_PENDING, ["order.cancelled", "inventory.release"]),
        ("cancel_orders", OrderStatus.CONFIRMED, ["payment.refund"]),
        ("refund_orders", OrderStatus.CONFIRMED, ["payment.refund"]),
        ("retry_step", OrderStatus.PENDING, ["inventory.reserve"]),
        ("refund_orders", OrderStatus.PENDING, []),
    ],
)
def test_actions_go_through_the_services(admin_client, action, status, sent):
    order = OrderFactory(status=status)

    response = admin_client.post(
        ORDERS, {"action": action, "_selected_action": [str(order.pk)], "reason": "asked for"}
    )

    assert response.status_code == 302
    assert [t for t, _ in published()] == sent


@pytest.mark.parametrize("action", ["cancel_orders", "refund_orders"])
def test_the_money_actions_ask_why_and_are_audited(admin_client, admin_user, action):
    order = OrderFactory(status=OrderStatus.CONFIRMED)
    selected = {"action": action, "_selected_action": [str(order.pk)]}

    refused = admin_client.post(ORDERS, selected, follow=True)

    assert "Say why" in refused.content.decode()
    assert published() == [] and not AuditEntry.objects.exists()

    admin_client.post(ORDERS, {**selected, "reason": "parcel lost"})

    assert [t for t, _ in published()] == ["payment.refund"]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (
        admin_user.username,
        "refund",
        "parcel lost",
    )
    assert entry.target == f"order {order.pk}"


@pytest.mark.parametrize("action", ["cancel_orders", "refund_orders", "retry_step"])
def test_support_may_look_at_orders_but_not_act_on_them(client, action):
    # Given support (view-only) signed in as the admin's sign-in does it, and a confirmed order
    admin_sign_in(client, "support")
    order = OrderFactory(status=OrderStatus.CONFIRMED)

    # When they post an action of the order admin
    response = client.post(ORDERS, {"action": action, "_selected_action": [str(order.pk)]})

    # Then it is not one of theirs: nothing is sent and the order stays as it was
    assert response.status_code == 200  # the changelist again, "No action selected."
    assert published() == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


def test_the_order_page_links_to_the_other_admins_and_shows_money_and_address(admin_client):
    order = OrderFactory(currency="EUR", total="42.50")
    order.payment_id, order.reservation_id = uuid.uuid4(), uuid.uuid4()
    order.save()
    line = order.lines.get()

    page = admin_client.get(f"{ORDERS}{order.pk}/change/").content.decode()

    assert f'href="/admin/payments/payments/payment/{order.payment_id}/change/"' in page
    assert f'href="/admin/inventory/stock/reservation/{order.reservation_id}/change/"' in page
    assert f'href="/admin/products/catalogue/product/{line.product_id}/change/"' in page
    assert f'href="/admin/users/profiles/profile/{order.customer_id}/change/"' in page
    assert "42.50 EUR" in page
    assert "1 Analytical Way<br>N1 1AA London<br>GB<br>" in page
    assert '"line1"' not in page  # not the raw JSON


def test_every_admin_page_names_the_service_and_links_the_console(admin_client):
    page = admin_client.get(ORDERS).content.decode()

    assert "<title>Select order to change | Orders · Commerce platform</title>" in page
    assert '<a href="/admin/">Front page</a>' in page
    # admin_client is a superuser: every admin is open to it, this one named, not linked
    assert '<a href="/admin/payments/">Payments</a>' in page
    assert '<strong aria-current="page">Orders</strong>' in page
    assert 'id="logout-form"' in page
