"""A SKU answered from the first request, before its ``product.created`` is applied here: the
stock item is made from product_service's answer (no stock), and the event merges into it later,
once, never over newer data. product_service is the local stub of conftest's ``catalogue``."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from stock import services
from stock.catalogue import CatalogueProduct
from stock.handlers import on_product_created, on_product_updated
from stock.models import StockItem

from platform_tools.testing.api import at_once
from platform_tools.testing.backing import skip_unless
from platform_tools.testing.contract import assert_error
from service_kit.models import DeadLetter

from .helpers import envelope

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/{}/"
ADJUSTMENTS = "/api/v1/inventory/{}/adjustments/"


def product_event(message_type: str, product: dict, at: datetime, **data) -> dict:
    raw = envelope(message_type, product_id=product["id"], sku=product["sku"], **data)
    raw["occurred_at"] = at.isoformat()
    return raw


def created(product: dict, at: datetime) -> dict:
    return product_event(
        "product.created",
        product,
        at,
        name=product["name"],
        price="9.50",
        currency="EUR",
        is_active=product["is_active"],
    )


def catalogue_product(product: dict) -> CatalogueProduct:
    return CatalogueProduct(
        id=uuid.UUID(product["id"]),
        sku=product["sku"],
        updated_at=datetime.fromisoformat(product["updated_at"]),
    )


def stock_body(response) -> dict:
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    body.pop("updated_at")
    return body


def test_a_sku_the_catalogue_has_answers_at_once_with_no_stock(client, catalogue):
    product = catalogue.add("LAMP-1")

    first = stock_body(client.get(URL.format("LAMP-1")))
    second = stock_body(client.get(URL.format("LAMP-1")))

    assert (
        first
        == second
        == {
            "sku": "LAMP-1",
            "on_hand": 0,
            "reserved": 0,
            "available": 0,
            "low_stock_threshold": 5,
            "is_active": True,
        }
    )
    item = StockItem.objects.get(sku="LAMP-1")
    assert str(item.product_id) == product["id"]
    # One public read, exactly this SKU, no token; the second answer is inventory's own.
    assert [(r["path"], r["query"], r["auth"]) for r in catalogue.requests] == [
        ("/api/v1/products/", {"sku": ["LAMP-1"]}, None)
    ]


def test_the_event_merges_later_once_and_keeps_the_stock_given_meanwhile(
    client, manager, catalogue
):
    product = catalogue.add("LAMP-1")
    response = manager.post(
        ADJUSTMENTS.format("LAMP-1"), {"kind": "restock", "quantity": 7, "reason": "delivery"}
    )
    assert response.status_code == 201, response.content
    made_at = datetime.fromisoformat(product["updated_at"])

    on_product_created.apply(args=[created(product, made_at + timedelta(milliseconds=5))]).get()

    assert StockItem.objects.count() == 1
    item = StockItem.objects.get(sku="LAMP-1")
    assert (item.on_hand, item.reserved, item.is_active) == (7, 0, True)
    assert str(item.product_id) == product["id"]
    listed = manager.get(ADJUSTMENTS.format("LAMP-1")).json()["results"]
    assert [(a["kind"], a["delta"], a["on_hand_after"]) for a in listed] == [("restock", 7, 7)]
    assert not DeadLetter.objects.exists()


def test_an_event_older_than_the_catalogues_answer_changes_nothing_a_newer_one_applies(
    client, catalogue
):
    product = catalogue.add("LAMP-1")
    client.get(URL.format("LAMP-1"))
    answered_at = datetime.fromisoformat(product["updated_at"])

    # A deactivation the catalogue's answer already includes (it is active again since).
    old = product_event("product.updated", product, answered_at - timedelta(seconds=1))
    on_product_updated.apply(args=[{**old, "data": {**old["data"], "is_active": False}}]).get()
    assert StockItem.objects.get(sku="LAMP-1").is_active

    later = product_event("product.updated", product, answered_at + timedelta(seconds=1))
    on_product_updated.apply(args=[{**later, "data": {**later["data"], "is_active": False}}]).get()
    assert not StockItem.objects.get(sku="LAMP-1").is_active


def test_adjustments_of_a_sku_not_yet_announced_can_be_read_and_made(manager, catalogue):
    catalogue.add("LAMP-1")

    listed = manager.get(ADJUSTMENTS.format("LAMP-1"))
    assert listed.status_code == 200 and listed.json()["results"] == [], listed.content
    made = manager.post(
        ADJUSTMENTS.format("LAMP-2-UNKNOWN"), {"kind": "restock", "quantity": 1, "reason": "x"}
    )
    assert_error(made, 404, "not_found")
    assert list(StockItem.objects.values_list("sku", flat=True)) == ["LAMP-1"]


def test_a_product_the_catalogue_does_not_show_is_not_found(client, catalogue):
    catalogue.add("HIDDEN", active=False)  # inactive (a deleted one is not shown either)

    assert_error(client.get(URL.format("HIDDEN")), 404, "not_found")
    assert_error(client.get(URL.format("NEVER-MADE")), 404, "not_found")
    assert not StockItem.objects.exists()


@pytest.mark.parametrize("sku", ["bad%20sku", "-LEADING", "A" * 65, "%C3%A9t%C3%A9"])
def test_a_sku_no_product_can_have_is_not_found_without_asking(client, catalogue, sku):
    assert_error(client.get(URL.format(sku)), 404, "not_found")
    assert catalogue.requests == []


def test_product_service_down_is_a_503_and_makes_nothing(client, manager, catalogue_down):
    body = assert_error(client.get(URL.format("LAMP-1")), 503, "upstream_unavailable")
    assert body["error"]["details"]["upstream"] == "product"
    response = manager.post(
        ADJUSTMENTS.format("LAMP-1"), {"kind": "restock", "quantity": 1, "reason": "x"}
    )
    assert_error(response, 503, "upstream_unavailable")
    assert not StockItem.objects.exists()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": "boom"}),
        (400, {"error": {"code": "validation_error"}}),
        (200, {"results": [{"sku": "LAMP-1", "is_active": True}]}),  # no id, no updated_at
        (200, {"results": [{"sku": "LAMP-1", "is_active": True, "id": "x", "updated_at": "y"}]}),
        (200, ["not", "a", "page"]),
    ],
    ids=["server-error", "refused", "missing-fields", "bad-values", "not-a-page"],
)
def test_an_answer_inventory_cannot_use_is_a_503(client, catalogue, status, body):
    catalogue.status, catalogue.body = status, body

    assert_error(client.get(URL.format("LAMP-1")), 503, "upstream_unavailable")
    assert not StockItem.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_event_applied_while_the_catalogue_answers_leaves_one_row(catalogue, monkeypatch):
    product = catalogue.add("LAMP-1")
    event_at = datetime.fromisoformat(product["updated_at"]) + timedelta(milliseconds=5)

    def answer_after_the_event(sku: str) -> CatalogueProduct:
        def apply_event() -> None:
            # The worker applies product.created (its own connection, committed) meanwhile.
            on_product_created.apply(args=[created(product, event_at)]).get()
            connection.close()

        worker = threading.Thread(target=apply_event)
        worker.start()
        worker.join(30)
        return catalogue_product(product)

    monkeypatch.setattr(services.catalogue, "product_by_sku", answer_after_the_event)

    item = services.stock_item_get(sku="LAMP-1")

    assert StockItem.objects.count() == 1
    assert (item.sku, str(item.product_id), item.catalogue_synced_at) == (
        "LAMP-1",
        product["id"],
        event_at,
    )


@pytest.mark.django_db(transaction=True)
def test_a_request_and_the_event_at_the_same_moment_make_one_row(catalogue, monkeypatch):
    skip_unless(connection.vendor == "postgresql", "threads on PostgreSQL only")
    products = [catalogue.add(f"RACE-{n}") for n in range(30)]
    event_at = datetime.now(UTC) + timedelta(seconds=1)
    # The catalogue's answer at once, so that both inserts meet (the stub's HTTP round trip
    # would let the event win every time).
    answers = {p["sku"]: catalogue_product(p) for p in products}
    monkeypatch.setattr(services.catalogue, "product_by_sku", answers.get)

    def work(job: tuple[str, dict]):
        kind, product = job
        if kind == "read":
            return services.stock_item_get(sku=product["sku"]).product_id
        return on_product_created.apply(args=[created(product, event_at)]).get()

    at_once(work, [(kind, p) for p in products for kind in ("read", "event")])

    assert sorted(StockItem.objects.values_list("sku", "product_id")) == sorted(
        (p["sku"], uuid.UUID(p["id"])) for p in products
    )
    assert not DeadLetter.objects.exists()
