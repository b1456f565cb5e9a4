"""Payments (one per order) and their refunds.

A payment's money is a decimal amount with its ISO 4217 currency. ``status`` moves PENDING →
SUCCEEDED or FAILED, then SUCCEEDED → PARTIALLY_REFUNDED → REFUNDED as refunds add up;
``refunded_amount`` is the sum of its refunds and never exceeds ``amount``. PENDING is also where
a charge whose provider never answered stays (the outcome is unknown: asking again with the same
idempotency key settles it).
"""

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"


#: The states in which money was captured (a repeated charge answers ``payment.succeeded``).
CAPTURED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


class Payment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    customer_id = models.UUIDField(db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    failure_code = models.CharField(max_length=64, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Added after rows existed: nullable, so that adding them rewrites no table (make lint).
    provider = models.CharField(
        max_length=32, null=True, blank=True, help_text="The adapter that charged."
    )
    provider_reference = models.CharField(
        max_length=128, null=True, blank=True, help_text="The provider's id of the charge."
    )
    raw_response = models.JSONField(
        null=True, blank=True, help_text="The provider's last answer, as it gave it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    def save(self, *args, **kwargs) -> None:
        # auto_now, by hand: a column with a default cannot be added without a table rewrite.
        self.updated_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)

    @property
    def refundable_amount(self) -> Decimal:
        if self.status not in CAPTURED:
            return Decimal("0.00")
        return self.amount - self.refunded_amount


class Refund(models.Model):
    class Source(models.TextChoices):
        COMMAND = "command", "saga command"
        API = "api", "API"
        ADMIN = "admin", "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    actor_id = models.UUIDField(null=True, blank=True, help_text="The staff user's id (token).")
    actor_email = models.CharField(max_length=254, blank=True)
    provider_reference = models.CharField(max_length=128, blank=True)
    raw_response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} of {self.payment_id}"
