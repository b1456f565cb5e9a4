"""Reads of stock, reservations and adjustments (no side effects)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from django.db.models import F, QuerySet

from .errors import StockItemNotFound
from .models import Adjustment, Reservation, StockItem


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


def reservation_list(
    *, order_ids: Collection[UUID] | None = None, state: str | None = None
) -> QuerySet[Reservation]:
    """Reservations (one per order), newest first: those of ``order_ids`` and/or in ``state``."""
    reservations = Reservation.objects.all()
    if order_ids is not None:
        reservations = reservations.filter(order_id__in=list(order_ids))
    if state:
        reservations = reservations.filter(state=state)
    return reservations.order_by("-created_at", "id")
