"""inventory_service's own metrics (the kit adds HTTP, database, task and messaging ones)."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter

RESERVATIONS = Counter(
    "inventory_reservations_total",
    "Reservation outcomes: reserved, rejected, committed, released, expired, refused (a commit)",
    ["outcome"],
)


def count(outcome: str) -> None:
    """Count ``outcome`` once the transaction that decided it commits."""
    label = outcome.lower()
    transaction.on_commit(lambda: RESERVATIONS.labels(label).inc())
