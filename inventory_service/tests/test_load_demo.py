"""``manage.py load_demo``: the demo SKUs get stock once; a second run changes nothing."""

import io

import pytest
from django.core.management import call_command
from stock.management.commands.load_demo import DEMO_REASON, DEMO_STOCK
from stock.models import Adjustment, StockItem

from .factories import StockItemFactory

pytestmark = pytest.mark.django_db

SKUS = [  # product_service's demo catalogue
    "DEMO-MUG-WHITE",
    "DEMO-MUG-BLUE",
    "DEMO-MUG-RED",
    "DEMO-CUP-ESPRESSO",
    "DEMO-KETTLE-STEEL",
    "DEMO-TEAPOT-IRON",
    "DEMO-TEA-EARLGREY",
    "DEMO-TEA-SENCHA",
    "DEMO-COFFEE-BEANS",
    "DEMO-NOTEBOOK-A5",
    "DEMO-PEN-FOUNTAIN",
    "DEMO-PENCIL-SET",
]


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue().strip()


def test_the_demo_skus_get_20_to_100_units_each_recorded_as_a_restock():
    assert load_demo() == "12 demo SKU(s) stocked, 0 already had stock."

    stock = dict(StockItem.objects.values_list("sku", "on_hand"))
    assert sorted(stock) == sorted(SKUS)
    assert stock == DEMO_STOCK
    assert all(20 <= units <= 100 for units in stock.values())
    assert Adjustment.objects.filter(kind="restock", reason=DEMO_REASON).count() == 12


def test_a_second_run_changes_nothing():
    load_demo()
    StockItem.objects.filter(sku="DEMO-TEA-SENCHA").update(reserved=5)

    assert load_demo() == "0 demo SKU(s) stocked, 12 already had stock."

    assert dict(StockItem.objects.values_list("sku", "on_hand")) == DEMO_STOCK
    assert StockItem.objects.get(sku="DEMO-TEA-SENCHA").reserved == 5
    assert Adjustment.objects.count() == 12


def test_a_sku_the_catalogue_made_with_no_stock_is_stocked_once():
    StockItemFactory(sku="DEMO-PEN-FOUNTAIN", on_hand=0)
    StockItemFactory(sku="DEMO-PENCIL-SET", on_hand=3)  # stock of its own: left alone

    load_demo()
    load_demo()

    assert StockItem.objects.get(sku="DEMO-PEN-FOUNTAIN").on_hand == DEMO_STOCK["DEMO-PEN-FOUNTAIN"]
    assert StockItem.objects.get(sku="DEMO-PENCIL-SET").on_hand == 3
