"""The inventory service's figure on the staff front page (service_kit.console.api)."""

from __future__ import annotations

from django.db.models import F, Q

from service_kit.console import Figure, admin_href

from .models import StockItem

#: A SKU whose available units (on hand, less reserved) are below its threshold.
LOW_STOCK = Q(on_hand__lt=F("reserved") + F("low_stock_threshold"))


def figures() -> list[Figure]:
    return [
        Figure(
            "low_stock",
            "SKUs below their threshold",
            StockItem.objects.filter(LOW_STOCK).count(),
            admin_href("inventory", "stock", "stockitem", query={"low_stock": "yes"}),
        )
    ]
