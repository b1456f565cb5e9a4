"""The order admin: orders by state and date, search by id or email, lines and history inline,
and actions that go through the same services as the saga (cancel, refund, retry a stuck step)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from service_kit.api import ApplicationError
from service_kit.audit import REASON_MISSING
from service_kit.console import address_display, admin_link, money_display

from . import console, services
from .models import Order, OrderLine, OrderTransition, ReconciliationMismatch


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("product", "sku", "name", "unit_price_shown", "quantity", "line_total_shown")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="product")
    def product(self, line: OrderLine) -> str:
        return admin_link("product", "catalogue", "product", line.product_id)

    @admin.display(description="unit price")
    def unit_price_shown(self, line: OrderLine) -> str:
        return money_display(line.unit_price, line.order.currency)

    @admin.display(description="line total")
    def line_total_shown(self, line: OrderLine) -> str:
        return money_display(line.line_total, line.order.currency)


class OrderTransitionInline(admin.TabularInline):
    model = OrderTransition
    extra = 0
    can_delete = False
    verbose_name_plural = "history"
    fields = ("at", "from_status", "to_status", "reason", "actor")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _actor(request) -> str:
    return f"staff:{request.user.get_username()}"


def _each(modeladmin, request, queryset, action, done: str) -> None:
    ok = 0
    for order in queryset:
        try:
            action(order)
            ok += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{order.pk}: {exc.detail}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{ok} order(s) {done}.", messages.SUCCESS)


#: Every field of an order read-only; other services' ids, money and the address shown as links,
#: amounts with their currency and an address (service_kit.console).
_SHOWN = {
    "customer_id": "customer",
    "total": "total_shown",
    "refunded_amount": "refunded_shown",
    "shipping_address": "shipping_address_shown",
    "reservation_id": "reservation",
    "payment_id": "payment",
}


class SagaFilter(admin.SimpleListFilter):
    """The front page's links: orders waiting for a step, and those stuck past its deadline."""

    title = "waiting"
    parameter_name = "saga"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting within the deadline"), ("stuck", "Stuck past the deadline")]

    def queryset(self, request, queryset):
        state = self.value()
        if state in ("waiting", "stuck"):
            return queryset.filter(pk__in=console.waiting_orders(state).values("pk"))
        return queryset


class ReasonActionForm(ActionForm):
    """The actions that move money (refund, cancel) ask why: kept in the audit trail."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Why",
        help_text="Required to refund or cancel: kept in the audit trail.",
    )


def _reason(modeladmin, request) -> str:
    """The action form's reason; '' (and the person told) when none was given."""
    reason = request.POST.get("reason", "").strip()[:500]
    if not reason:
        modeladmin.message_user(request, f"Nothing done. {REASON_MISSING}", messages.ERROR)
    return reason


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    action_form = ReasonActionForm
    list_display = (
        "id",
        "customer_email",
        "status",
        "total_shown",
        "refunded_shown",
        "created_at",
    )
    list_filter = ("status", SagaFilter, ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("=id", "customer_email", "=customer_id")
    ordering = ("-created_at",)
    inlines = [OrderLineInline, OrderTransitionInline]
    actions = ["cancel_orders", "refund_orders", "retry_step"]
    exclude = ("payment_token",)
    fields = readonly_fields = tuple(
        _SHOWN.get(f.name, f.name)
        for f in Order._meta.get_fields()
        if f.concrete and f.name not in ("payment_token", "currency")
    )

    @admin.display(description="customer")
    def customer(self, order: Order) -> str:
        return admin_link("user", "profiles", "profile", order.customer_id)

    @admin.display(description="total", ordering="total")
    def total_shown(self, order: Order) -> str:
        return money_display(order.total, order.currency)

    @admin.display(description="refunded", ordering="refunded_amount")
    def refunded_shown(self, order: Order) -> str:
        return money_display(order.refunded_amount, order.currency)

    @admin.display(description="shipping address")
    def shipping_address_shown(self, order: Order) -> str:
        return address_display(order.shipping_address)

    @admin.display(description="reservation")
    def reservation(self, order: Order) -> str:
        return admin_link("inventory", "stock", "reservation", order.reservation_id)

    @admin.display(description="payment")
    def payment(self, order: Order) -> str:
        return admin_link("payment", "payments", "payment", order.payment_id)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description="Cancel (before confirmation: release; after: refund)", permissions=["change"]
    )
    def cancel_orders(self, request, queryset):
        if not (reason := _reason(self, request)):
            return
        _each(
            self,
            request,
            queryset,
            lambda o: services.order_cancel(
                order_id=o.pk, actor=_actor(request), staff=True, reason=reason
            ),
            "cancelled (or refund asked)",
        )

    @admin.action(
        description="Refund through payment_service (confirmed orders)", permissions=["change"]
    )
    def refund_orders(self, request, queryset):
        if not (reason := _reason(self, request)):
            return
        _each(
            self,
            request,
            queryset,
            lambda o: services.order_refund(order_id=o.pk, actor=_actor(request), reason=reason),
            "sent for refund",
        )

    @admin.action(
        description="Retry the stuck step (send its command again)", permissions=["change"]
    )
    def retry_step(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda o: services.order_retry_step(order_id=o.pk, actor=_actor(request)),
            "retried",
        )


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(admin.ModelAdmin):
    list_display = ("order_id", "kind", "found_at", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("=order_id",)
    readonly_fields = ("order_id", "kind", "details", "found_at")

    def has_add_permission(self, request) -> bool:
        return False
