"""``GET /api/v1/inventory/{sku}/`` (public) and the staff list with its filters."""

import pytest
from django.db import IntegrityError
from django.utils import timezone

from platform_tools.testing.contract import assert_error

from .factories import StockItemFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/inventory/"


def skus(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [item["sku"] for item in response.json()["results"]]


def test_stock_item_shows_what_is_available_to_anyone(client):
    StockItemFactory(sku="MUG-1", on_hand=10, reserved=3, low_stock_threshold=2)

    body = client.get("/api/v1/inventory/MUG-1/").json()

    assert body.pop("updated_at")
    assert body == {
        "sku": "MUG-1",
        "on_hand": 10,
        "reserved": 3,
        "available": 7,
        "low_stock_threshold": 2,
        "is_active": True,
    }


def test_unknown_sku_is_not_found(client):
    assert_error(client.get("/api/v1/inventory/NOPE/"), 404, "not_found")


def test_database_refuses_more_reserved_than_on_hand():
    with pytest.raises(IntegrityError):
        StockItemFactory(on_hand=2, reserved=3)


@pytest.fixture
def shelf():
    """Available: A 10, B 3 (low: threshold 5), C 0 (low), D 6 (inactive), E 5 (threshold 5)."""
    StockItemFactory(sku="A-MUG", on_hand=12, reserved=2, low_stock_threshold=5)
    StockItemFactory(sku="B-MUG", on_hand=3, low_stock_threshold=5)
    StockItemFactory(sku="C-TEE", on_hand=4, reserved=4, low_stock_threshold=1)
    StockItemFactory(sku="D-TEE", on_hand=6, deactivated_at=timezone.now())
    StockItemFactory(sku="E-CAP", on_hand=5, low_stock_threshold=5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["A-MUG", "B-MUG", "C-TEE", "D-TEE", "E-CAP"]),
        ({"low_stock": "true"}, ["B-MUG", "C-TEE"]),
        ({"low_stock": "false"}, ["A-MUG", "D-TEE", "E-CAP"]),
        ({"is_active": "false"}, ["D-TEE"]),
        ({"search": "mug"}, ["A-MUG", "B-MUG"]),
        ({"search": "tee", "low_stock": "true"}, ["C-TEE"]),
        ({"ordering": "available"}, ["C-TEE", "B-MUG", "E-CAP", "D-TEE", "A-MUG"]),
        ({"ordering": "-available"}, ["A-MUG", "D-TEE", "E-CAP", "B-MUG", "C-TEE"]),
        ({"ordering": "-sku"}, ["E-CAP", "D-TEE", "C-TEE", "B-MUG", "A-MUG"]),
        ({"page_size": "2"}, ["A-MUG", "B-MUG"]),
        ({"page_size": "2", "page": "3"}, ["E-CAP"]),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_staff_list_filters_searches_orders_and_pages(as_role, shelf, query, expected):
    assert skus(as_role("inventory_manager").get(LIST, query)) == expected


def test_the_list_is_paginated_as_the_contract_says(as_role, shelf):
    body = as_role("support").get(LIST, {"page_size": 2, "page": 2}).json()

    assert (body["count"], len(body["results"])) == (5, 2)
    assert body["next"].endswith("?page=3&page_size=2")
    assert body["previous"].endswith("?page_size=2")
    assert body["results"][0] == {
        "sku": "C-TEE",
        "on_hand": 4,
        "reserved": 4,
        "available": 0,
        "low_stock_threshold": 1,
        "is_active": True,
        "updated_at": body["results"][0]["updated_at"],
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"low_stock": "maybe"}, "low_stock"),
        ({"low_stock": "True"}, "low_stock"),
        ({"is_active": "1"}, "is_active"),
        ({"ordering": "price"}, "ordering"),
    ],
)
def test_bad_filter_values_are_validation_errors(as_role, query, field):
    body = assert_error(as_role("admin").get(LIST, query), 400, "validation_error")

    assert list(body["error"]["details"]) == [field]


def test_a_page_past_the_end_is_not_found(as_role, shelf):
    assert_error(as_role("admin").get(LIST, {"page": 9}), 404, "not_found")


@pytest.mark.parametrize("roles", [["inventory_manager"], ["support"], ["admin"]])
def test_staff_roles_may_list(as_role, roles):
    assert as_role(*roles).get(LIST).status_code == 200


@pytest.mark.parametrize("roles", [["customer"], ["catalogue_manager"], ["order_manager"], []])
def test_customers_and_other_staff_may_not_list(as_role, roles):
    assert_error(as_role(*roles).get(LIST), 403, "permission_denied")


def test_a_service_token_may_not_list(client, mint):
    headers = mint.headers(client_id="order", scopes=["inventory:read"])

    assert_error(client.get(LIST, **headers), 403, "permission_denied")
