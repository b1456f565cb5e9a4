"""The stock admin: stock with what is available, reservations, and the adjustment history.

Stock levels change only through the services (adjustments, the saga's commands): the admin
shows ``on_hand`` and ``reserved`` read-only, records an adjustment through the same service as
the API, and releases a stuck reservation through the same service as the saga's command.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils import timezone

from service_kit.console import admin_link

from . import services
from .console import LOW_STOCK
from .errors import BelowReserved, InvalidInput, StockItemNotFound
from .models import Adjustment, Reservation, StockItem


class LowStockFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", "Low (available below threshold)"), ("no", "Not low")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(LOW_STOCK)
        if self.value() == "no":
            return queryset.exclude(LOW_STOCK)
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    title = "product active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Deactivated or deleted")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deactivated_at__isnull=self.value() == "yes")
        return queryset


class AdjustmentInline(admin.TabularInline):
    model = Adjustment
    extra = 0
    fields = ("created_at", "kind", "quantity", "delta", "on_hand_after", "reason", "actor_email")
    readonly_fields = fields
    ordering = ("-created_at",)
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    list_display = (
        "sku",
        "on_hand",
        "reserved",
        "available",
        "low_stock_threshold",
        "is_low",
        "is_active",
        "updated_at",
    )
    list_filter = (LowStockFilter, ActiveFilter)
    search_fields = ("sku",)
    fields = (
        "sku",
        "product_id",
        "on_hand",
        "reserved",
        "available",
        "low_stock_threshold",
        "deactivated_at",
        "catalogue_synced_at",
        "updated_at",
    )
    # Stock moves by adjustment (recorded) or by the saga, never by editing a number here.
    readonly_fields = (
        "sku",
        "product_id",
        "on_hand",
        "reserved",
        "available",
        "catalogue_synced_at",
        "updated_at",
    )
    inlines = [AdjustmentInline]

    @admin.display(description="available")
    def available(self, obj: StockItem) -> int:
        return obj.available

    @admin.display(description="active", boolean=True)
    def is_active(self, obj: StockItem) -> bool:
        return obj.is_active

    @admin.display(description="low", boolean=True)
    def is_low(self, obj: StockItem) -> bool:
        return obj.is_low

    def has_add_permission(self, request) -> bool:
        # SKUs come from the catalogue (product.created), with product_service's product id.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Reservations and adjustments refer to the SKU; a deleted product deactivates it.
        return False


class ExpiredFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Held past its expiry"), ("no", "Held, not expired")]

    def queryset(self, request, queryset):
        held = queryset.filter(state=Reservation.State.RESERVED)
        if self.value() == "yes":
            return held.filter(expires_at__lte=timezone.now())
        if self.value() == "no":
            return held.filter(expires_at__gt=timezone.now())
        return queryset


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "state", "units", "expires_at", "reason", "created_at")
    list_filter = ("state", ExpiredFilter)
    search_fields = ("=order_id", "=id")
    date_hierarchy = "created_at"
    # The order as a link into the order admin (service_kit.console), the rest as stored.
    fields = readonly_fields = tuple(
        "order" if f.name == "order_id" else f.name for f in Reservation._meta.fields
    )

    @admin.display(description="order")
    def order(self, reservation: Reservation) -> str:
        return admin_link("order", "orders", "order", reservation.order_id)

    actions = ["release_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_release_permission(self, request) -> bool:
        return request.user.has_perm("stock.change_reservation")

    @admin.action(
        description="Release the selected held reservations (stuck orders)",
        permissions=["release"],
    )
    def release_selected(self, request, queryset):
        released = 0
        for reservation in queryset.filter(state=Reservation.State.RESERVED):
            services.reservation_release(
                order_id=reservation.order_id, reason=f"released by staff ({request.user})"
            )
            released += 1
        skipped = queryset.count() - released
        self.message_user(
            request,
            f"Released {released} reservation(s); {skipped} not held were left alone.",
            messages.SUCCESS if released else messages.WARNING,
        )


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = Adjustment
        fields = ("stock_item", "kind", "quantity", "reason")

    def clean(self):
        data = super().clean() or {}  # Django's answers cleaned_data (the stubs: or None)
        item, kind, quantity = (data.get(n) for n in ("stock_item", "kind", "quantity"))
        if item is None or kind is None or quantity is None:
            return data
        try:
            delta = services.adjustment_delta(kind=kind, quantity=quantity)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.details) from None
        if delta < 0 and item.available < -delta:
            raise forms.ValidationError(
                {"quantity": f"Only {item.available} units on hand are not reserved."}
            )
        return data


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """The history, read-only; a new adjustment goes through the same service as the API."""

    form = AdjustmentForm
    list_display = (
        "created_at",
        "stock_item",
        "kind",
        "quantity",
        "delta",
        "on_hand_after",
        "actor_email",
        "reason",
    )
    list_filter = ("kind", "created_at")
    search_fields = ("stock_item__sku", "actor_email", "reason")
    date_hierarchy = "created_at"
    autocomplete_fields = ("stock_item",)

    def get_fields(self, request, obj=None):
        return AdjustmentForm.Meta.fields if obj is None else [f.name for f in _FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else [f.name for f in _FIELDS]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        # Through the service: the conditional update, the record, stock.low.
        adjustment = services.stock_adjust(
            sku=obj.stock_item_id,
            kind=obj.kind,
            quantity=obj.quantity,
            reason=obj.reason,
            actor_email=request.user.email or str(request.user),
        )
        for field in _FIELDS:
            setattr(obj, field.attname, getattr(adjustment, field.attname))
        obj._state.adding = False

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except (BelowReserved, InvalidInput, StockItemNotFound) as exc:
            # The stock changed between the form's check and the save (another order, another
            # adjustment): nothing was saved.
            self.message_user(request, f"Not adjusted: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


_FIELDS = Adjustment._meta.concrete_fields
