"""``POST|GET /api/v1/inventory/{sku}/adjustments/``: restock, damage, correction, by staff."""

import uuid

import pytest
from stock.models import Adjustment, StockItem

from platform_tools.testing.contract import assert_error
from service_kit.models import AuditEntry

from .factories import AdjustmentFactory, StockItemFactory
from .helpers import published

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/MUG/adjustments/"
MANAGER_ID = "6b0d9f0e-3f5c-4c1e-9a51-3c1f5f0e0a11"


@pytest.fixture
def mug():
    """on hand 10, 4 of them reserved: 6 available; low below 5."""
    return StockItemFactory(sku="MUG", on_hand=10, reserved=4, low_stock_threshold=5)


@pytest.fixture
def manager(as_role):
    return as_role("inventory_manager", email="manager@example.com", user_id=MANAGER_ID)


def on_hand() -> int:
    return StockItem.objects.get(sku="MUG").on_hand


@pytest.mark.parametrize(
    ("kind", "quantity", "delta", "after"),
    [
        ("restock", 5, 5, 15),
        ("damage", 2, -2, 8),
        ("damage", 6, -6, 4),  # down to exactly what is reserved
        ("correction", 3, 3, 13),
        ("correction", -6, -6, 4),
    ],
)
def test_an_adjustment_changes_on_hand_and_is_recorded(mug, manager, kind, quantity, delta, after):
    response = manager.post(URL, {"kind": kind, "quantity": quantity, "reason": "count"})

    assert response.status_code == 201, response.content
    body = response.json()
    adjustment = Adjustment.objects.get()
    assert body == {
        "id": str(adjustment.pk),
        "sku": "MUG",
        "kind": kind,
        "quantity": quantity,
        "delta": delta,
        "on_hand_after": after,
        "reason": "count",
        "actor_id": MANAGER_ID,
        "actor_email": "manager@example.com",
        "created_at": body["created_at"],
    }
    assert on_hand() == after
    assert StockItem.objects.get(sku="MUG").reserved == 4
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.reason) == (
        "manager@example.com",
        kind,
        "SKU MUG",
        "count",
    )
    assert entry.details == {"quantity": quantity, "delta": delta, "on_hand_after": after}
    assert entry.target_url == "/admin/inventory/stock/stockitem/MUG/change/"


@pytest.mark.parametrize(
    ("kind", "quantity"),
    [("damage", 7), ("correction", -7), ("damage", 10)],
)
def test_on_hand_never_goes_below_what_is_reserved(mug, manager, kind, quantity):
    response = manager.post(URL, {"kind": kind, "quantity": quantity, "reason": "broken"})

    body = assert_error(response, 409, "conflict")
    assert body["error"]["details"] == {"on_hand": 10, "reserved": 4, "available": 6}
    assert body["error"]["message"] == "Only 6 of 10 units on hand are not reserved."
    assert on_hand() == 10
    assert Adjustment.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "restock", "quantity": 0, "reason": "x"}, "quantity"),
        ({"kind": "restock", "quantity": -3, "reason": "x"}, "quantity"),
        ({"kind": "damage", "quantity": -1, "reason": "x"}, "quantity"),
        ({"kind": "correction", "quantity": 0, "reason": "x"}, "quantity"),
        ({"kind": "restock", "quantity": 1_000_001, "reason": "x"}, "quantity"),
        ({"kind": "restock", "quantity": "many", "reason": "x"}, "quantity"),
        ({"kind": "theft", "quantity": 1, "reason": "x"}, "kind"),
        ({"kind": "restock", "quantity": 1, "reason": ""}, "reason"),
        ({"kind": "restock", "quantity": 1, "reason": "   "}, "reason"),
        ({"kind": "restock", "quantity": 1}, "reason"),
        ({"kind": "restock", "quantity": 1, "reason": "x" * 501}, "reason"),
    ],
)
def test_bad_adjustments_are_validation_errors(mug, manager, body, field):
    response = manager.post(URL, body)

    details = assert_error(response, 400, "validation_error")["error"]["details"]
    assert list(details) == [field]
    assert on_hand() == 10


def test_an_unknown_sku_is_not_found(manager):
    response = manager.post(
        "/api/v1/inventory/NOPE/adjustments/", {"kind": "restock", "quantity": 1, "reason": "x"}
    )

    assert_error(response, 404, "not_found")


def test_damage_announces_low_stock_on_the_crossing(mug, manager):
    manager.post(URL, {"kind": "damage", "quantity": 1, "reason": "chipped"})  # available 5
    manager.post(URL, {"kind": "damage", "quantity": 1, "reason": "chipped"})  # 4: crossed
    manager.post(URL, {"kind": "damage", "quantity": 1, "reason": "chipped"})  # 3: still low
    manager.post(URL, {"kind": "restock", "quantity": 9, "reason": "delivery"})

    assert published() == [("stock.low", {"sku": "MUG", "available": 4, "threshold": 5})]


def test_the_same_idempotency_key_adjusts_once(mug, manager):
    body = {"kind": "restock", "quantity": 5, "reason": "delivery"}
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}

    first = manager.post(URL, body, **key)
    second = manager.post(URL, body, **key)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert on_hand() == 15
    assert Adjustment.objects.count() == 1


def test_the_history_lists_the_skus_adjustments_newest_first(mug, as_role):
    older = AdjustmentFactory(stock_item=mug, reason="older")
    newer = AdjustmentFactory(stock_item=mug, kind="damage", quantity=1, delta=-1, reason="newer")
    AdjustmentFactory(reason="another sku")

    body = as_role("support").get(URL).json()

    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [str(newer.pk), str(older.pk)]
    assert body["results"][1]["reason"] == "older"


@pytest.mark.parametrize(
    ("roles", "get_status", "post_status"),
    [
        (["inventory_manager"], 200, 201),
        (["admin"], 200, 201),
        (["support"], 200, 403),
        (["customer"], 403, 403),
        (["catalogue_manager"], 403, 403),
    ],
)
def test_who_may_read_and_adjust(mug, as_role, roles, get_status, post_status):
    api = as_role(*roles)

    assert api.get(URL).status_code == get_status
    response = api.post(URL, {"kind": "restock", "quantity": 1, "reason": "x"})
    assert response.status_code == post_status
    if post_status == 403:
        assert_error(response, 403, "permission_denied")
        assert on_hand() == 10
