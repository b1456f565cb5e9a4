"""Filters of the staff stock list (django-filter): a bad value is a 400 ``validation_error``."""

from __future__ import annotations

import django_filters
from django.db.models import F, QuerySet

from .models import StockItem


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``, nothing else (django-filter's own BooleanFilter ignores a value it
    does not know, which would answer a typo with the unfiltered list)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """The chosen ordering, then the SKU: pages never overlap on ties."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "sku") if value else qs


class StockItemFilter(django_filters.FilterSet):
    low_stock = StrictBooleanFilter(
        method="filter_low_stock", help_text="Available below the SKU's low-stock threshold."
    )
    is_active = StrictBooleanFilter(
        method="filter_is_active", help_text="Whether the SKU's product is active."
    )
    search = django_filters.CharFilter(
        field_name="sku", lookup_expr="icontains", help_text="Part of the SKU."
    )
    ordering = StableOrderingFilter(
        fields=(("sku", "sku"), ("available_units", "available"), ("updated_at", "updated_at")),
        help_text="sku, available or updated_at; a leading - reverses.",
    )

    class Meta:
        model = StockItem
        fields: list[str] = []

    def filter_low_stock(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        low = {"on_hand__lt": F("reserved") + F("low_stock_threshold")}
        return queryset.filter(**low) if value else queryset.exclude(**low)

    def filter_is_active(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(deactivated_at__isnull=value)
