"""The order admin: by state, date, id and email; lines and history inline; actions through the
saga's own services."""

import pytest
from orders.factories import OrderFactory, OrderTransitionFactory
from orders.models import OrderStatus

from service_kit.testing.permissions import admin_sign_in

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

    response = admin_client.post(ORDERS, {"action": action, "_selected_action": [str(order.pk)]})

    assert response.status_code == 302
    assert [t for t, _ in published()] == sent


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
