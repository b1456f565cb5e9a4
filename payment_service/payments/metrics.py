"""payment_service's own metrics (the kit adds HTTP, database, task and messaging ones)."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter

PAYMENT_OUTCOMES = Counter(
    "payment_outcomes_total",
    "Charge outcomes: succeeded, failed, pending (no answer), replayed",
    ["outcome"],
)
REFUNDS = Counter("payment_refunds_total", "Refunds made, by who asked", ["source"])


def count_outcome(outcome: str) -> None:
    """Count ``outcome`` once the transaction that decided it commits."""
    label = outcome.lower()
    transaction.on_commit(lambda: PAYMENT_OUTCOMES.labels(label).inc())


def count_refund(source: str) -> None:
    transaction.on_commit(lambda: REFUNDS.labels(source).inc())
