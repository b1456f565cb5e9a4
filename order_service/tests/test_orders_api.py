"""The orders API with product_service replaced by a local HTTP stub for the batch read."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from orders import services
from orders.models import Order, OrderStatus, OrderTransition

from platform_tools.testing.contract import assert_error
from service_kit.models import OutboxMessage

from .factories import ADDRESS, OrderFactory
from .helpers import published

pytestmark = pytest.mark.django_db

MUG = "00000000-0000-4000-8000-000000000001"
LAMP = "00000000-0000-4000-8000-000000000002"
OLD = "00000000-0000-4000-8000-000000000003"
URL = "/api/v1/orders/"


def body(*lines, token="tok_visa"):
    return {
        "lines": [{"product_id": p, "quantity": q} for p, q in lines],
        "shipping_address": ADDRESS,
        "payment_token": token,
    }


@pytest.fixture
def products(catalogue):
    catalogue.add(MUG, "MUG-1", "9.50", name="Mug")
    catalogue.add(LAMP, "LAMP-1", "30.00", name="Lamp")
    catalogue.add(OLD, "OLD-1", "1.00", active=False)
    return catalogue


def test_placing_an_order_snapshots_prices_and_asks_for_stock(customer, products):
    response = customer.post(URL, body((MUG, 2), (LAMP, 1)))

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert response["Location"] == f"/api/v1/orders/{order.pk}/"
    data = response.json()
    assert data["id"] == str(order.pk)
    assert data["status"] == "PENDING"
    assert data["total"] == "49.00" and data["currency"] == "EUR"
    assert data["refunded_amount"] == "0.00"
    assert data["shipping_address"] == ADDRESS
    assert data["lines"] == [
        {
            "product_id": MUG,
            "sku": "MUG-1",
            "name": "Mug",
            "unit_price": "9.50",
            "quantity": 2,
            "line_total": "19.00",
        },
        {
            "product_id": LAMP,
            "sku": "LAMP-1",
            "name": "Lamp",
            "unit_price": "30.00",
            "quantity": 1,
            "line_total": "30.00",
        },
    ]
    [step] = data["history"]
    assert (step["status"], step["reason"]) == ("PENDING", "created")
    assert step["actor"].startswith("customer:")
    assert set(data) == {
        "id",
        "status",
        "lines",
        "total",
        "refunded_amount",
        "currency",
        "shipping_address",
        "history",
        "created_at",
        "updated_at",
    }
    # The answer is the order as stored: what its detail reads back, byte for byte.
    assert customer.get(response["Location"]).json() == data
    # One batch read of the catalogue.
    [request] = products.requests
    assert request["path"] == "/api/v1/products/"
    assert request["query"] == {"ids": [f"{MUG},{LAMP}"], "page_size": ["100"]}
    # order.created and inventory.reserve in the outbox, with the reservation's expiry.
    assert order.customer_email == "ada@example.com"
    assert order.payment_token == "tok_visa"
    expiry = order.reservation_expires_at - order.created_at
    assert abs(expiry - timedelta(seconds=settings.RESERVATION_EXPIRY)) < timedelta(seconds=1)
    assert published() == [
        (
            "order.created",
            {
                "order_id": str(order.pk),
                "customer_id": str(order.customer_id),
                "total": "49.00",
                "currency": "EUR",
                "lines": [
                    {"product_id": MUG, "sku": "MUG-1", "quantity": 2, "unit_price": "9.50"},
                    {"product_id": LAMP, "sku": "LAMP-1", "quantity": 1, "unit_price": "30.00"},
                ],
            },
        ),
        (
            "inventory.reserve",
            {
                "order_id": str(order.pk),
                "lines": [{"sku": "MUG-1", "quantity": 2}, {"sku": "LAMP-1", "quantity": 1}],
                "expires_at": order.reservation_expires_at.isoformat(),
            },
        ),
    ]


def test_a_product_named_twice_is_one_line(customer, products):
    response = customer.post(URL, body((MUG, 1), (MUG, 2)))

    assert response.status_code == 201
    assert [(line["sku"], line["quantity"]) for line in response.json()["lines"]] == [("MUG-1", 3)]


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (((MUG, 1), (OLD, 1)), "lines[1].product_id"),
        (((str(uuid.uuid4()), 1),), "lines[0].product_id"),
    ],
    ids=["inactive", "unknown"],
)
def test_an_inactive_or_unknown_product_is_a_validation_error_naming_its_line(
    customer, products, lines, field
):
    response = customer.post(URL, body(*lines))

    error = assert_error(response, 400, "validation_error")["error"]
    assert list(error["details"]) == [field]
    assert not Order.objects.exists()
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"lines": []},
        {"lines": [{"product_id": MUG, "quantity": 0}]},
        {"shipping_address": {**ADDRESS, "country": "gb"}},
        {"payment_token": ""},
    ],
)
def test_a_malformed_order_is_refused_before_the_catalogue_is_asked(customer, products, bad):
    response = customer.post(URL, {**body((MUG, 1)), **bad})

    assert_error(response, 400, "validation_error")
    assert products.requests == []


def test_product_service_down_is_503_and_nothing_is_written(customer, catalogue_down):
    response = customer.post(URL, body((MUG, 1)))

    error = assert_error(response, 503, "upstream_unavailable")["error"]
    assert error["details"]["upstream"] == "product"
    assert not Order.objects.exists()
    assert not OrderTransition.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_product_service_failing_is_503_too(customer, products):
    products.status = 500

    assert_error(customer.post(URL, body((MUG, 1))), 503, "upstream_unavailable")
    assert not Order.objects.exists()


def test_the_same_idempotency_key_twice_places_one_order(customer, products):
    first = customer.post(URL, body((MUG, 1)), HTTP_IDEMPOTENCY_KEY="order-1")
    second = customer.post(URL, body((MUG, 1)), HTTP_IDEMPOTENCY_KEY="order-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert len(published("inventory.reserve")) == 1
    changed = customer.post(URL, body((MUG, 2)), HTTP_IDEMPOTENCY_KEY="order-1")
    assert_error(changed, 422, "idempotency_key_reused")


def test_customers_list_only_their_own_orders(as_user):
    me = str(uuid.uuid4())
    mine = OrderFactory(customer_id=me)
    OrderFactory()

    response = as_user("customer", user_id=me).get(URL)

    assert response.status_code == 200
    assert [o["id"] for o in response.json()["results"]] == [str(mine.pk)]


def test_a_partially_refunded_order_shows_what_came_back(as_user):
    me = str(uuid.uuid4())
    order = OrderFactory(customer_id=me, status=OrderStatus.CONFIRMED)
    services.payment_refunded(
        order_id=order.pk, refunded_amount=Decimal("5.00"), actor="payment:payment.refunded"
    )

    data = as_user("customer", user_id=me).get(f"{URL}{order.pk}/").json()

    assert (data["status"], data["total"], data["refunded_amount"]) == (
        "CONFIRMED",
        "19.00",
        "5.00",
    )


@pytest.mark.parametrize("role", ["support", "order_manager", "admin"])
def test_staff_list_every_order_and_filter_by_status(as_user, role):
    confirmed = OrderFactory(status=OrderStatus.CONFIRMED)
    OrderFactory(status=OrderStatus.PENDING)
    staff = as_user(role)

    assert staff.get(URL).json()["count"] == 2
    filtered = staff.get(URL, {"status": "CONFIRMED"}).json()
    assert [o["id"] for o in filtered["results"]] == [str(confirmed.pk)]
    assert_error(staff.get(URL, {"status": "SHIPPED"}), 400, "validation_error")


def test_a_customer_reads_their_order_but_another_customers_is_404(as_user):
    me = str(uuid.uuid4())
    mine, theirs = OrderFactory(customer_id=me), OrderFactory()
    api = as_user("customer", user_id=me)

    assert api.get(f"{URL}{mine.pk}/").json()["id"] == str(mine.pk)
    assert_error(api.get(f"{URL}{theirs.pk}/"), 404, "not_found")
    assert_error(api.get(f"{URL}not-a-uuid/"), 404, "not_found")


def test_the_customer_cancels_their_pending_order(as_user):
    me = str(uuid.uuid4())
    order = OrderFactory(customer_id=me)

    response = as_user("customer", user_id=me).post(f"{URL}{order.pk}/cancel/", {})

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "CANCELLED"
    assert [(h["status"], h["actor"]) for h in data["history"]] == [("CANCELLED", f"customer:{me}")]
    assert published("inventory.release") == [
        ("inventory.release", {"order_id": str(order.pk), "reason": "cancelled"})
    ]


def test_a_customer_cannot_cancel_a_confirmed_order_nor_anothers(as_user):
    me = str(uuid.uuid4())
    confirmed = OrderFactory(customer_id=me, status=OrderStatus.CONFIRMED)
    theirs = OrderFactory()
    api = as_user("customer", user_id=me)

    assert_error(api.post(f"{URL}{confirmed.pk}/cancel/", {}), 409, "conflict")
    assert_error(api.post(f"{URL}{theirs.pk}/cancel/", {}), 404, "not_found")
    assert published() == []


def test_support_reads_but_does_not_cancel_others_orders(as_user):
    order = OrderFactory()

    assert_error(as_user("support").post(f"{URL}{order.pk}/cancel/", {}), 403, "permission_denied")


def test_an_order_manager_cancels_a_confirmed_order_with_a_refund(as_user):
    order = OrderFactory(status=OrderStatus.CONFIRMED)

    response = as_user("order_manager", email="m@example.com").post(
        f"{URL}{order.pk}/cancel/", {"reason": "customer called"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "CONFIRMED"  # REFUNDED once payment_service confirms
    assert published() == [
        (
            "payment.refund",
            {
                "order_id": str(order.pk),
                "amount": "19.00",
                "reason": "customer called",
                "refund_key": f"order:{order.pk}",
            },
        )
    ]


def test_placing_an_order_answers_without_reading_it_back(customer, products):
    """The order's rows are written, never selected again: the answer is built from them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = customer.post(URL, body((MUG, 1)))
    assert response.status_code == 201, response.content
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "orders_" in q["sql"]]
    assert reads == []
    assert len(response.json()["history"]) == 1 and len(response.json()["lines"]) == 1
