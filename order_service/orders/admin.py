"""The order admin: orders by state and date, search by id or email, lines and history inline,
and actions that go through the same services as the saga (cancel, refund, retry a stuck step)."""

from django.contrib import admin, messages

from service_kit.api import ApplicationError

from . import services
from .models import Order, OrderLine, OrderTransition, ReconciliationMismatch


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("product_id", "sku", "name", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


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


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "customer_email",
        "status",
        "total",
        "refunded_amount",
        "currency",
        "created_at",
    )
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("=id", "customer_email", "=customer_id")
    ordering = ("-created_at",)
    inlines = [OrderLineInline, OrderTransitionInline]
    actions = ["cancel_orders", "refund_orders", "retry_step"]
    exclude = ("payment_token",)
    readonly_fields = [
        f.name for f in Order._meta.get_fields() if f.concrete and f.name != "payment_token"
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description="Cancel (before confirmation: release; after: refund)", permissions=["change"]
    )
    def cancel_orders(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda o: services.order_cancel(
                order_id=o.pk, actor=_actor(request), staff=True, reason="cancelled in the admin"
            ),
            "cancelled (or refund asked)",
        )

    @admin.action(
        description="Refund through payment_service (confirmed orders)", permissions=["change"]
    )
    def refund_orders(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda o: services.order_refund(
                order_id=o.pk, actor=_actor(request), reason="refunded in the admin"
            ),
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
