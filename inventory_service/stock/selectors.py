"""Reads of stock and adjustments (no side effects)."""

from __future__ import annotations

from django.db.models import F, QuerySet

from .errors import StockItemNotFound
from .models import Adjustment, StockItem


def stock_item_list() -> QuerySet[StockItem]:
    """Every SKU with ``available_units`` (on hand - reserved) to filter and order by."""
    return StockItem.objects.annotate(available_units=F("on_hand") - F("reserved"))


def stock_item_get(*, sku: str) -> StockItem:
    item = StockItem.objects.filter(sku=sku).first()
    if item is None:
        raise StockItemNotFound()
    return item


def adjustment_list(*, sku: str) -> QuerySet[Adjustment]:
    """The SKU's adjustments, newest first (404 for an SKU not kept here)."""
    stock_item_get(sku=sku)
    return Adjustment.objects.filter(stock_item_id=sku).order_by("-created_at", "-id")
