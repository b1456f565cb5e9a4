from rest_framework import serializers

from .models import StockItem


class StockItemSerializer(serializers.ModelSerializer):
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockItem
        fields = ["sku", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at"]
