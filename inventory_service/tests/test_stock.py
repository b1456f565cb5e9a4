import pytest
from django.db import IntegrityError
from stock.factories import StockItemFactory

from service_kit.testing.contract import assert_error

pytestmark = pytest.mark.django_db


def test_stock_item_shows_what_is_available(client):
    StockItemFactory(sku="MUG-1", on_hand=10, reserved=3, low_stock_threshold=2)
    body = client.get("/api/v1/inventory/MUG-1/").json()
    assert {k: body[k] for k in ("sku", "on_hand", "reserved", "available")} == {
        "sku": "MUG-1",
        "on_hand": 10,
        "reserved": 3,
        "available": 7,
    }


def test_unknown_sku_is_not_found(client):
    assert_error(client.get("/api/v1/inventory/NOPE/"), 404, "not_found")


def test_database_refuses_more_reserved_than_on_hand():
    with pytest.raises(IntegrityError):
        StockItemFactory(on_hand=2, reserved=3)
