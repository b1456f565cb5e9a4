"""The payments admin: payments by state, search by order id, the provider's raw answer
(read-only), refunds inline, and a refund (amount + reason) through the same service as the API.

Money moves only through the services: nothing about a payment is edited here.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import APIException

from service_kit.console import admin_link, money_display

from . import services
from .models import Payment, Refund


def _pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("created_at", "amount", "currency", "reason", "source", "actor_email")
    readonly_fields = fields
    can_delete = False
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    # Names this form's request: submitted twice (a double click, a resent POST), it refunds once.
    request_key = forms.CharField(
        max_length=64, required=False, widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex
    )

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.fields[
            "amount"
        ].help_text = f"At most {payment.refundable_amount:.2f} {payment.currency}."
        self.fields["amount"].initial = payment.refundable_amount

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.payment.refundable_amount:
            raise forms.ValidationError(
                f"At most {self.payment.refundable_amount:.2f} {self.payment.currency} "
                "can still be refunded."
            )
        return amount


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "order",
        "amount_shown",
        "status",
        "failure_code",
        "refunded_shown",
        "created_at",
    )
    list_filter = ("status", "currency", "created_at")
    search_fields = ("=order_id", "=id", "=customer_id", "=provider_reference")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "order",
        "customer",
        "amount_shown",
        "status",
        "failure_code",
        "refunded_shown",
        "provider",
        "provider_reference",
        "provider_answer",
        "created_at",
        "updated_at",
        "refund_link",
    )
    readonly_fields = fields
    inlines = [RefundInline]
    actions = ["refund_selected"]

    @admin.display(description="order")
    def order(self, obj: Payment) -> str:
        return admin_link("order", "orders", "order", obj.order_id)

    @admin.display(description="customer")
    def customer(self, obj: Payment) -> str:
        return admin_link("user", "profiles", "profile", obj.customer_id)

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: Payment) -> str:
        return money_display(obj.amount, obj.currency)

    @admin.display(description="refunded", ordering="refunded_amount")
    def refunded_shown(self, obj: Payment) -> str:
        return money_display(obj.refunded_amount, obj.currency)

    @admin.display(description="provider's raw response")
    def provider_answer(self, obj: Payment) -> str:
        return _pretty(obj.raw_response)

    @admin.display(description="refund")
    def refund_link(self, obj: Payment) -> str:
        if obj.pk is None or obj.refundable_amount <= 0:
            return "—"
        url = reverse("admin:payments_payment_refund", args=[obj.pk])
        return format_html('<a class="button" href="{}">Refund…</a>', url)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The change page shows the payment (read-only); view permission is enough to open it.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("payments.add_refund")

    @admin.action(
        description="Refund the selected payment (amount and reason)…", permissions=["refund"]
    )
    def refund_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Refund one payment at a time.", messages.WARNING)
            return None
        payment = queryset.get()
        return HttpResponseRedirect(reverse("admin:payments_payment_refund", args=[payment.pk]))

    def get_urls(self):
        return [
            path(
                "<uuid:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, payment_id):
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment, pk=payment_id)
        change_url = reverse("admin:payments_payment_change", args=[payment.pk])
        form = RefundForm(request.POST or None, payment=payment)
        if request.method == "POST" and form.is_valid():
            try:
                refund = services.refund_create(
                    payment_id=payment.pk,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    source=Refund.Source.ADMIN,
                    actor_email=getattr(request.user, "email", "") or str(request.user),
                    request_key=f"admin:{form.cleaned_data['request_key'] or uuid.uuid4().hex}",
                )
            except APIException as exc:  # the service's refusal (409, 503, 504)
                form.add_error(None, str(exc.detail))
            else:
                self.message_user(
                    request,
                    f"Refunded {refund.amount:.2f} {refund.currency}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund payment {payment.pk}",
            "opts": self.model._meta,
            "payment": payment,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "payment",
        "amount",
        "currency",
        "source",
        "actor_email",
        "reason",
    )
    list_filter = ("source", "created_at")
    search_fields = ("=payment__order_id", "=payment__id", "actor_email", "reason")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Refund._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # a refund is made from its payment (the service checks what is left)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
