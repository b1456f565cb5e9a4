from rest_framework import serializers

from .models import Adjustment, Reservation, StockItem
from .services import MAX_QUANTITY


class StockItemSerializer(serializers.ModelSerializer):
    available = serializers.IntegerField(read_only=True)
    is_active = serializers.BooleanField(
        read_only=True, help_text="False once the catalogue deactivated or deleted the product."
    )

    class Meta:
        model = StockItem
        fields = [
            "sku",
            "on_hand",
            "reserved",
            "available",
            "low_stock_threshold",
            "is_active",
            "updated_at",
        ]


class AdjustmentCreateSerializer(serializers.Serializer):
    """The request: the rules of each kind (sign, limits) are the service's."""

    kind = serializers.ChoiceField(choices=Adjustment.Kind.choices)
    quantity = serializers.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="restock and damage: a positive number of units; correction: signed, not 0.",
    )
    reason = serializers.CharField(max_length=500, help_text="Why the stock changes.")


class AdjustmentSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="stock_item_id", read_only=True)

    class Meta:
        model = Adjustment
        fields = [
            "id",
            "sku",
            "kind",
            "quantity",
            "delta",
            "on_hand_after",
            "reason",
            "actor_id",
            "actor_email",
            "created_at",
        ]
        read_only_fields = fields


class ReservationSerializer(serializers.ModelSerializer):
    """What an order holds, for order_service's reconciliation and staff."""

    reservation_id = serializers.UUIDField(source="id", read_only=True)
    lines = serializers.JSONField(
        read_only=True, help_text='The lines as held: [{"sku": ..., "quantity": ...}].'
    )

    class Meta:
        model = Reservation
        fields = ["order_id", "reservation_id", "state", "lines"]
        read_only_fields = fields
