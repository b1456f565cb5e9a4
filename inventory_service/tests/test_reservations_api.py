"""The reservations read (``GET /api/v1/inventory/reservations/``): order_service's
reconciliation reads what its orders hold with a service token carrying ``inventory:read``;
the staff who read stock may too. The token matrix runs with a service token as the good one."""

import uuid

import pytest
from stock.models import Reservation

from platform_tools.testing.contract import TOKEN_CASE_IDS, assert_error, token_cases

from .factories import ReservationFactory, StockItemFactory
from .helpers import Api

pytestmark = pytest.mark.django_db

LIST = "/api/v1/inventory/reservations/"


@pytest.fixture
def reader(client, mint) -> Api:
    """order_service's service identity, allowed to read reservations."""
    return Api(client, mint.headers(client_id="order", scopes=["inventory:read"]))


def body_of(reservation: Reservation) -> dict:
    return {
        "order_id": str(reservation.order_id),
        "reservation_id": str(reservation.pk),
        "state": reservation.state,
        "lines": reservation.lines,
    }


def test_a_service_token_reads_the_reservations_of_a_batch_of_orders(reader):
    committed = ReservationFactory(
        state=Reservation.State.COMMITTED, lines=[{"sku": "MUG", "quantity": 2}]
    )
    released = ReservationFactory(state=Reservation.State.RELEASED)
    ReservationFactory()  # another order's
    ids = ",".join([str(committed.order_id), str(released.order_id), str(uuid.uuid4())])

    response = reader.get(LIST, {"order_ids": ids})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert sorted(body["results"], key=lambda r: r["order_id"]) == sorted(
        [body_of(committed), body_of(released)], key=lambda r: r["order_id"]
    )


def test_the_reservations_are_filtered_by_state(reader):
    committed = ReservationFactory(state=Reservation.State.COMMITTED)
    ReservationFactory(state=Reservation.State.EXPIRED)
    ReservationFactory(state=Reservation.State.REJECTED)

    response = reader.get(LIST, {"state": "COMMITTED"})
    both = reader.get(LIST, {"state": "COMMITTED", "order_ids": str(committed.order_id)})

    assert response.json()["results"] == [body_of(committed)]
    assert both.json()["results"] == [body_of(committed)]


def test_the_list_is_paginated_newest_first(reader):
    made = [ReservationFactory() for _ in range(3)]

    first = reader.get(LIST, {"page_size": 2})

    body = first.json()
    assert body["count"] == 3 and body["next"] and len(body["results"]) == 2
    assert {r["reservation_id"] for r in body["results"]} <= {str(r.pk) for r in made}


def test_a_hundred_order_ids_are_allowed(reader):
    held = ReservationFactory()
    ids = [str(held.order_id), *(str(uuid.uuid4()) for _ in range(99))]

    response = reader.get(LIST, {"order_ids": ",".join(ids)})

    assert response.status_code == 200, response.content
    assert response.json()["results"] == [body_of(held)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"order_ids": ",".join(str(uuid.uuid4()) for _ in range(101))}, "order_ids"),
        ({"order_ids": "not-a-uuid"}, "order_ids"),
        ({"order_ids": ","}, "order_ids"),
        ({"state": "LOST"}, "state"),
    ],
    ids=["101-ids", "not-a-uuid", "empty", "unknown-state"],
)
def test_bad_filters_are_validation_errors(reader, query, field):
    error = assert_error(reader.get(LIST, query), 400, "validation_error")

    assert field in error["error"]["details"]


@pytest.mark.parametrize("role", ["inventory_manager", "support", "admin"])
def test_stock_staff_read_reservations(as_role, role):
    held = ReservationFactory()

    response = as_role(role).get(LIST)

    assert response.json()["results"] == [body_of(held)]


@pytest.mark.parametrize(
    "scopes", [["payments:read"], ["inventory:reserve"], []], ids=["other", "near", "none"]
)
def test_a_service_token_without_inventory_read_is_refused(client, mint, scopes):
    response = client.get(LIST, **mint.headers(client_id="order", scopes=scopes))

    assert_error(response, 403, "permission_denied")


def test_reservations_is_not_read_as_a_sku(client):
    StockItemFactory(sku="reservations")

    response = client.get(LIST)  # the route comes before "{sku}/": the list, not the SKU

    assert_error(response, 401, "not_authenticated")


def test_a_sku_next_to_it_is_still_read(client):
    StockItemFactory(sku="MUG")

    assert client.get("/api/v1/inventory/MUG/").status_code == 200


# -- the token matrix ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_tokens(_mint_key) -> dict:
    return {case[0]: case for case in token_cases(_mint_key)}


@pytest.mark.parametrize(
    "case_id", [*TOKEN_CASE_IDS, "service-token", "staff-token", "customer-token"]
)
def test_token_matrix(client, mint, bad_tokens, case_id):
    """Every bad token is refused with its code (a service token without the scope: 403), a
    customer too (403); the service token with ``inventory:read`` and a support token are not."""
    ReservationFactory()
    good = {
        "service-token": {"client_id": "order", "scopes": ["inventory:read"]},
        "staff-token": {"email": "matrix@example.com", "roles": ["support"], "is_staff": True},
        "customer-token": {"email": "matrix@example.com", "roles": ["customer"]},
    }
    if case_id in good:
        response = client.get(LIST, **mint.headers(**good[case_id]))
        if case_id == "customer-token":
            assert_error(response, 403, "permission_denied")
        else:
            assert response.status_code == 200, response.content[:300]
            assert response.json()["count"] == 1
        return
    _, header, status, code = bad_tokens[case_id]
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(LIST, **extra)
    assert_error(response, status, code)
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
