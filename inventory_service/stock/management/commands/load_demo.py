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
    "DEMO-MUG-BLUE": 40,
    "DEMO-MUG-RED": 35,
    "DEMO-TEE-S": 25,
    "DEMO-TEE-M": 60,
    "DEMO-TEE-L": 45,
    "DEMO-CAP": 30,
    "DEMO-SOCKS": 100,
    "DEMO-BAG": 20,
    "DEMO-POSTER": 50,
    "DEMO-PEN": 80,
    "DEMO-NOTEBOOK": 70,
    "DEMO-BOTTLE": 55,
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
