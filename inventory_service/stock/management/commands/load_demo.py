"""``manage.py load_demo``: stock for the demo catalogue (product_service's load_demo makes the
products with these SKUs). Idempotent: each SKU is stocked once (a recorded restock), a second
run changes nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from stock.models import Adjustment, StockItem
from stock.services import stock_adjust

#: SKU → units on hand. The names are the contract with product_service's demo catalogue.
DEMO_STOCK = {
    "DEMO-MUG-WHITE": 40,
    "DEMO-MUG-BLUE": 35,
    "DEMO-MUG-RED": 25,
    "DEMO-CUP-ESPRESSO": 60,
    "DEMO-KETTLE-STEEL": 20,
    "DEMO-TEAPOT-IRON": 20,
    "DEMO-TEA-EARLGREY": 100,
    "DEMO-TEA-SENCHA": 80,
    "DEMO-COFFEE-BEANS": 100,
    "DEMO-NOTEBOOK-A5": 70,
    "DEMO-PEN-FOUNTAIN": 20,
    "DEMO-PENCIL-SET": 45,
}


DEMO_REASON = "demo data (manage.py load_demo)"


class Command(BaseCommand):
    help = "Give the demo SKUs stock (idempotent)."

    def handle(self, *args, **options) -> None:
        stocked = 0
        with transaction.atomic():
            for sku, units in DEMO_STOCK.items():
                # The SKU may exist already, made by product.created with no stock: it gets its
                # demo stock once, as a recorded restock; a second run finds the record.
                item, _ = StockItem.objects.get_or_create(sku=sku)
                if item.on_hand or item.adjustments.filter(reason=DEMO_REASON).exists():
                    continue
                stock_adjust(
                    sku=sku,
                    kind=Adjustment.Kind.RESTOCK,
                    quantity=units,
                    reason=DEMO_REASON,
                    actor_email="load_demo",
                )
                stocked += 1
        self.stdout.write(
            f"{stocked} demo SKU(s) stocked, {len(DEMO_STOCK) - stocked} already had stock."
        )
