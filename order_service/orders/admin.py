from django.contrib import admin

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "customer_id", "status", "total", "currency", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "customer_id")
