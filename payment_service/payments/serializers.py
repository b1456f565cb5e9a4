from decimal import Decimal
from typing import Any

from rest_framework import serializers

from .models import Payment, Refund
from .services import MAX_AMOUNT

_money: dict[str, Any] = {
    "max_digits": 12,
    "decimal_places": 2,
    "min_value": Decimal("0.01"),
    "max_value": MAX_AMOUNT,
}


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "id",
            "order_id",
            "amount",
            "currency",
            "status",
            "failure_code",
            "refunded_amount",
            "created_at",
        ]
        read_only_fields = fields


class ChargeRequestSerializer(serializers.Serializer):
    """The request of order_service: the order's amount, never a client's."""

    order_id = serializers.UUIDField()
    amount = serializers.DecimalField(**_money)
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217, like EUR.")
    payment_token = serializers.CharField(max_length=200)
    customer_id = serializers.UUIDField(help_text="The order's customer: they see the payment.")


class RefundRequestSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        **_money, help_text="At most what was captured and not refunded yet."
    )
    reason = serializers.CharField(max_length=500)


class RefundSerializer(serializers.ModelSerializer):
    payment = PaymentSerializer(read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "amount",
            "currency",
            "reason",
            "source",
            "actor_id",
            "actor_email",
            "created_at",
            "payment",
        ]
        read_only_fields = fields
