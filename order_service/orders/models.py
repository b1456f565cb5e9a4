"""Orders, their lines (prices snapshotted from the catalogue) and every transition of the saga.

The saga's state machine lives in ``services.py``: every status change goes through
``services.order_transition``, which records an :class:`OrderTransition`.
"""

import uuid
from decimal import Decimal

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "PENDING"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(db_index=True)
    customer_email = models.CharField(max_length=254, blank=True, null=True)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    shipping_address = models.JSONField(default=dict)
    # Nullable only so the column is added without a table rewrite (migration linter).
    payment_token = models.CharField(
        max_length=200,
        blank=True,
        null=True,
        help_text="Kept only while the order waits for its payment, then blanked.",
    )
    # The saga's timers and answers.
    deadline_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When the step the order waits for (reserve, then payment) times out.",
    )
    reservation_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The expiry sent with inventory.reserve."
    )
    reservation_id = models.UUIDField(null=True, blank=True)
    payment_id = models.UUIDField(null=True, blank=True)
    paid_at = models.DateTimeField(
        null=True, blank=True, help_text="When payment.succeeded arrived (money was taken)."
    )
    stock_committed_at = models.DateTimeField(null=True, blank=True)
    stock_released_at = models.DateTimeField(null=True, blank=True)
    refund_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When payment.refund was sent (at most once)."
    )
    refunded_at = models.DateTimeField(
        null=True, blank=True, help_text="When all of the money was back."
    )
    # Nullable only so the column is added without a table rewrite (migration linter): None is 0.
    refunded_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="What payment_service has given back so far (payment.refunded).",
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When the saga reached a final state."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="order_status_created")]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    @property
    def refunded(self) -> Decimal:
        """The money given back so far (0.00 before any refund)."""
        return self.refunded_amount or Decimal("0.00")


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product_id = models.UUIDField()
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderTransition(models.Model):
    """One step of an order's history: who or what moved it, when and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    actor = models.CharField(
        max_length=254, help_text="customer:<id>, staff:<email>, or the message/task that did it."
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class ReconciliationMismatch(models.Model):
    """A disagreement the periodic reconciliation found between an order, its payment and its
    reservation (orders/reconciliation.py); open until staff resolve it."""

    class Kind(models.TextChoices):
        CONFIRMED_NOT_CAPTURED = "confirmed_not_captured"
        CAPTURED_NOT_CONFIRMED = "captured_not_confirmed"
        AMOUNT_DIFFERS = "amount_differs"
        CONFIRMED_NOT_COMMITTED = "confirmed_not_committed"
        COMMITTED_NOT_CONFIRMED = "committed_not_confirmed"
        REFUND_DIFFERS = "refund_differs"

    order_id = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    details = models.JSONField(default=dict, blank=True)
    found_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_id", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="mismatch_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"
