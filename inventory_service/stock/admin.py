from django.contrib import admin

from .models import StockItem


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    list_display = ("sku", "on_hand", "reserved", "low_stock_threshold", "updated_at")
    search_fields = ("sku",)
