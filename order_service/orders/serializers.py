from rest_framework import serializers

from .models import Order, OrderLine, OrderStatus, OrderTransition
from .services import MAX_LINES

MAX_QUANTITY = 1000


class OrderLineInputSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ShippingAddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(
        r"^[A-Z]{2}$", help_text="ISO 3166-1 alpha-2, upper case.", max_length=2
    )


class OrderCreateSerializer(serializers.Serializer):
    """The request: prices come from the catalogue, never from the client."""

    # many=True: the ListSerializer made takes max_length (the stubs know the child's arguments)
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    shipping_address = ShippingAddressSerializer()
    payment_token = serializers.CharField(max_length=200)


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["product_id", "sku", "name", "unit_price", "quantity", "line_total"]
        read_only_fields = fields


class HistorySerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(source="to_status", choices=OrderStatus.choices)

    class Meta:
        model = OrderTransition
        fields = ["status", "at", "reason", "actor"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    history = HistorySerializer(source="transitions", many=True, read_only=True)
    shipping_address = ShippingAddressSerializer(read_only=True)
    refunded_amount = serializers.DecimalField(
        source="refunded",
        max_digits=12,
        decimal_places=2,
        read_only=True,
        help_text="Money given back so far; a partially refunded order stays CONFIRMED.",
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "lines",
            "total",
            "refunded_amount",
            "currency",
            "shipping_address",
            "history",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
