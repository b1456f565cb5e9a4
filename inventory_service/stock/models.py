"""Stock per SKU, the reservations orders hold on it, and the staff's adjustments.

Every change of ``on_hand`` or ``reserved`` is one conditional ``UPDATE`` with ``F()`` expressions
in ``services.py`` (never read, compute, write), and the database's own CHECK constraint keeps
``0 <= reserved <= on_hand`` whatever happens above it.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q


class StockItem(models.Model):
    """Stock of one SKU; the database itself keeps ``0 <= reserved <= on_hand``."""

    sku = models.CharField(max_length=64, primary_key=True)
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(
        default=5, help_text="stock.low is announced when available drops below this."
    )
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the catalogue deactivated or deleted the product: an inactive SKU takes "
        "no new reservations.",
    )
    product_id = models.UUIDField(null=True, blank=True, help_text="product_service's id.")
    catalogue_synced_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the last applied product event happened (older ones are ignored).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved__gte=0) & Q(reserved__lte=F("on_hand")),
                name="stock_reserved_within_on_hand",
            )
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    @property
    def is_low(self) -> bool:
        return self.available < self.low_stock_threshold


class Reservation(models.Model):
    """What one order holds (or was refused), made by ``inventory.reserve``.

    One per order: the order id is unique, so a replayed command finds it and changes nothing.
    ``lines`` are the order's lines merged per SKU and sorted, as they were held.
    """

    class State(models.TextChoices):
        RESERVED = "RESERVED", "reserved"
        COMMITTED = "COMMITTED", "committed"
        RELEASED = "RELEASED", "released"
        EXPIRED = "EXPIRED", "expired"
        REJECTED = "REJECTED", "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    state = models.CharField(max_length=16, choices=State.choices)
    lines = models.JSONField(default=list, help_text='[{"sku": ..., "quantity": ...}]')
    short = models.JSONField(
        default=list,
        blank=True,
        help_text='Lines refused for want of stock: [{"sku", "requested", "available"}].',
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A held reservation is released after this."
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text="Why it was rejected, released or expired."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The expiry sweep: held reservations by expiry.
            models.Index(
                fields=["expires_at"],
                name="reservation_held_expiry_idx",
                condition=Q(state="RESERVED"),
            ),
            models.Index(fields=["state", "-created_at"], name="reservation_state_idx"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.state})"

    @property
    def units(self) -> int:
        return sum(line["quantity"] for line in self.lines)


class Adjustment(models.Model):
    """A staff change of ``on_hand``: who, why, when, and what it left."""

    class Kind(models.TextChoices):
        RESTOCK = "restock", "restock"
        DAMAGE = "damage", "damage"
        CORRECTION = "correction", "correction"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    quantity = models.IntegerField(help_text="As given: positive, or signed for a correction.")
    delta = models.IntegerField(help_text="The change of on_hand it made.")
    on_hand_after = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    actor_id = models.UUIDField(null=True, blank=True, help_text="The staff user's id (token).")
    actor_email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d} {self.stock_item_id}"
