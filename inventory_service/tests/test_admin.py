"""The stock admin: available and low stock shown, reservations by state and expiry, a release
action through the saga's own service, and adjustments recorded through the API's service."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from stock import services
from stock.models import Adjustment, Reservation, StockItem

from .factories import AdjustmentFactory, ReservationFactory, StockItemFactory
from .helpers import published

pytestmark = pytest.mark.django_db

STOCK = "/admin/stock/stockitem/"
RESERVATIONS = "/admin/stock/reservation/"
ADJUSTMENTS = "/admin/stock/adjustment/"


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_stock_list_shows_available_and_filters_low_stock(admin_client):
    low = StockItemFactory(sku="LOW", on_hand=6, reserved=3, low_stock_threshold=5)
    StockItemFactory(sku="PLENTY", on_hand=50, low_stock_threshold=5)

    response = admin_client.get(STOCK)
    assert b'<td class="field-available">3</td>' in response.content

    assert listed(admin_client.get(STOCK, {"low_stock": "yes"})) == [low]
    assert [i.sku for i in listed(admin_client.get(STOCK, {"low_stock": "no"}))] == ["PLENTY"]
    assert listed(admin_client.get(STOCK, {"q": "LOW"})) == [low]


def test_stock_numbers_are_read_only_and_skus_are_not_added_or_deleted_here(admin_client):
    item = StockItemFactory(sku="MUG", on_hand=5)
    page = f"{STOCK}MUG/change/"

    response = admin_client.post(
        page,
        {
            "low_stock_threshold": 2,
            "on_hand": 500,
            "adjustments-TOTAL_FORMS": 0,
            "adjustments-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.on_hand, item.low_stock_threshold) == (5, 2)
    assert admin_client.get(f"{STOCK}add/").status_code == 403
    assert admin_client.get(f"{STOCK}MUG/delete/").status_code == 403


def test_reservations_by_state_and_held_past_expiry(admin_client):
    past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(minutes=5)
    stuck = ReservationFactory(expires_at=past)
    live = ReservationFactory(expires_at=future)
    done = ReservationFactory(state="COMMITTED", expires_at=past)

    assert listed(admin_client.get(RESERVATIONS, {"expired": "yes"})) == [stuck]
    assert listed(admin_client.get(RESERVATIONS, {"expired": "no"})) == [live]
    assert listed(admin_client.get(RESERVATIONS, {"state__exact": "COMMITTED"})) == [done]
    assert listed(admin_client.get(RESERVATIONS, {"q": str(live.order_id)})) == [live]


def test_the_release_action_goes_through_the_service(admin_client):
    StockItemFactory(sku="MUG", on_hand=10, low_stock_threshold=0)
    held = services.reservation_reserve(
        order_id=uuid.uuid4(), lines=[{"sku": "MUG", "quantity": 4}]
    )
    committed = services.reservation_reserve(
        order_id=uuid.uuid4(), lines=[{"sku": "MUG", "quantity": 1}]
    )
    services.reservation_commit(order_id=committed.order_id)

    response = admin_client.post(
        RESERVATIONS,
        {"action": "release_selected", "_selected_action": [str(held.pk), str(committed.pk)]},
    )

    assert response.status_code == 302
    held.refresh_from_db()
    assert (held.state, held.reason) == ("RELEASED", "released by staff (admin)")
    assert Reservation.objects.get(pk=committed.pk).state == "COMMITTED"
    item = StockItem.objects.get(sku="MUG")
    assert (item.on_hand, item.reserved) == (9, 0)
    assert published("inventory.released") == [
        (
            "inventory.released",
            {
                "order_id": str(held.order_id),
                "reservation_id": str(held.pk),
                "reason": "released by staff (admin)",
            },
        )
    ]


def test_an_adjustment_added_in_the_admin_goes_through_the_service(admin_client):
    StockItemFactory(sku="MUG", on_hand=10, reserved=2)

    response = admin_client.post(
        f"{ADJUSTMENTS}add/",
        {"stock_item": "MUG", "kind": "damage", "quantity": 3, "reason": "dropped"},
    )

    assert response.status_code == 302, response.content[-2000:]
    adjustment = Adjustment.objects.get()
    assert (adjustment.delta, adjustment.on_hand_after, adjustment.actor_email) == (
        -3,
        7,
        "admin@example.com",
    )
    assert StockItem.objects.get(sku="MUG").on_hand == 7


@pytest.mark.parametrize(
    ("kind", "quantity", "error"),
    [
        ("damage", 9, "Only 8 units on hand are not reserved."),
        ("restock", -1, "A restock is a positive quantity."),
    ],
)
def test_the_admin_form_refuses_what_the_service_would(admin_client, kind, quantity, error):
    StockItemFactory(sku="MUG", on_hand=10, reserved=2)

    response = admin_client.post(
        f"{ADJUSTMENTS}add/",
        {"stock_item": "MUG", "kind": kind, "quantity": quantity, "reason": "x"},
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert StockItem.objects.get(sku="MUG").on_hand == 10
    assert Adjustment.objects.count() == 0


def test_the_adjustment_history_is_read_only(admin_client):
    adjustment = AdjustmentFactory()
    page = f"{ADJUSTMENTS}{adjustment.pk}/change/"

    admin_client.post(page, {"reason": "rewritten"})

    adjustment.refresh_from_db()
    assert adjustment.reason == "delivery"
    assert admin_client.get(f"{ADJUSTMENTS}{adjustment.pk}/delete/").status_code == 403


def test_a_reservation_links_back_to_its_order(admin_client):
    reservation = ReservationFactory()
    link = f'href="/admin/orders/orders/order/{reservation.order_id}/change/"'

    assert link in admin_client.get(RESERVATIONS).content.decode()
    page = admin_client.get(f"{RESERVATIONS}{reservation.pk}/change/").content.decode()
    assert link in page
    assert "Inventory · Commerce platform</title>" in page
