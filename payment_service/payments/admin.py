from django.contrib import admin

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("id", "order_id", "amount", "currency", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "order_id")
