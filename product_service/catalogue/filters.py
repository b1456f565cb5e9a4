"""The product list's filters (docs/api.md#resources): every bad value is a 400 naming its field.

``category`` (id or slug; its subcategories' products too), ``min_price`` / ``max_price``,
``is_active``, ``search`` (every word in the name, SKU or description), ``ordering`` (``price``,
``name``, ``created_at``, each either way; comma-separated for several), ``ids`` (at most 100
comma-separated product ids, for order_service's batch look-ups) and ``sku`` (one SKU, exactly:
inventory_service's look-up of a SKU it has not heard of yet).
"""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from . import selectors
from .errors import CategoryNotFound
from .models import Product

IDS_MAX = 100
SEARCH_MAX_LENGTH = 200
SKU_MAX_LENGTH = 64  # Product.sku's
#: Orderings end with the SKU, so that pages never overlap or skip among equal values.
TIE_BREAKER = "sku"
#: The query parameters the product list understands (the others are ignored).
QUERY_PARAMETERS = frozenset(
    {
        "category",
        "min_price",
        "max_price",
        "is_active",
        "search",
        "ordering",
        "ids",
        "sku",
        "page",
        "page_size",
    }
)


class CategoryField(forms.CharField):
    """A category id or slug → the ids of that category and every one below it."""

    def clean(self, value: Any) -> list[uuid.UUID] | None:
        value = super().clean(value)
        if not value:
            return None
        try:
            category = selectors.category_get(key=value)
        except CategoryNotFound:
            raise ValidationError(
                "No category has this id or slug.", code="invalid_category"
            ) from None
        return selectors.category_descendant_ids(category=category)


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (``1`` / ``0`` too); anything else is an error, not "no filter"."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def clean(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError("Must be true or false.", code="invalid_boolean") from None


class UUIDListField(forms.CharField):
    """Comma-separated UUIDs, at most ``IDS_MAX`` of them (empty items are skipped)."""

    def clean(self, value: Any) -> list[uuid.UUID] | None:
        value = super().clean(value)
        if not value:
            return None
        items = [item.strip() for item in value.split(",") if item.strip()]
        if len(items) > IDS_MAX:
            raise ValidationError(
                f"At most {IDS_MAX} ids at once, not {len(items)}.", code="too_many_ids"
            )
        ids, bad = [], []
        for item in items:
            try:
                ids.append(uuid.UUID(item))
            except ValueError:
                bad.append(item)
        if bad:
            shown = ", ".join(repr(item[:40]) for item in bad[:5])
            raise ValidationError(f"Not a product id: {shown}.", code="invalid_id")
        return ids


@extend_schema_field(OpenApiTypes.STR)
class CategoryFilter(django_filters.Filter):
    field_class = CategoryField

    def filter(self, qs: QuerySet, value: list[uuid.UUID] | None) -> QuerySet:
        return qs if value is None else qs.filter(category_id__in=value)


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField

    def filter(self, qs: QuerySet, value: bool | None) -> QuerySet:
        return qs if value is None else qs.filter(**{self.field_name: value})


@extend_schema_field(OpenApiTypes.STR)
class UUIDListFilter(django_filters.Filter):
    field_class = UUIDListField

    def filter(self, qs: QuerySet, value: list[uuid.UUID] | None) -> QuerySet:
        return qs if value is None else qs.filter(pk__in=value)


class ProductOrderingFilter(django_filters.OrderingFilter):
    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return qs  # the list's own order: newest first
        fields = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*fields, TIE_BREAKER)


class ProductFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}  # Django's answers cleaned_data (the stubs: or None)
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "Must not be below min_price.")
        return data


_price = {"min_value": 0, "max_digits": 12, "decimal_places": 2}


class ProductFilter(django_filters.FilterSet):
    category = CategoryFilter(help_text="A category id or slug; its subcategories count too.")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte", **_price)
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte", **_price)
    is_active = StrictBooleanFilter(
        field_name="is_active",
        help_text="Customers only ever see active products; catalogue staff see both.",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Every word must appear in the name, SKU or description.",
    )
    ordering = ProductOrderingFilter(
        fields=(("price", "price"), ("name", "name"), ("created_at", "created_at")),
        help_text="price, -price, name, -name, created_at or -created_at (default -created_at).",
    )
    ids = UUIDListFilter(help_text=f"Comma-separated product ids, at most {IDS_MAX}.")
    sku = django_filters.CharFilter(
        field_name="sku", max_length=SKU_MAX_LENGTH, help_text="One SKU, exactly (case counts)."
    )

    class Meta:
        model = Product
        fields: list[str] = []
        form = ProductFilterForm

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            qs = qs.filter(
                Q(name__icontains=word) | Q(sku__icontains=word) | Q(description__icontains=word)
            )
        return qs
