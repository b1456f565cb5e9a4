"""order_service's business metrics (the kit adds HTTP, database, task and messaging ones).

Each is counted once the transaction that decided it commits."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter

from service_kit.exemplars import Histogram

TRANSITIONS = Counter(
    "order_transitions_total", "Order status changes", ["from_status", "to_status"]
)
SAGA_DURATION = Histogram(
    "order_saga_duration_seconds",
    "From the order's creation to its final state, by that state",
    ["outcome"],
    buckets=(0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
PAYMENT_OUTCOMES = Counter(
    "order_payment_outcomes_total",
    "payment_service's answers as the saga took them: succeeded, failed, late (after the order "
    "ended: refunded), refunded",
    ["outcome"],
)
COMPENSATIONS = Counter(
    "order_compensations_total", "Compensating commands sent: release, refund", ["kind"]
)
MISMATCHES = Counter(
    "order_reconciliation_mismatches_total",
    "Disagreements the reconciliation found between orders, payments and committed stock",
    ["kind"],
)


def _later(action) -> None:
    transaction.on_commit(action)


def transition(from_status: str, to_status: str) -> None:
    _later(lambda: TRANSITIONS.labels(from_status or "NEW", to_status).inc())


def saga_finished(outcome: str, seconds: float) -> None:
    _later(lambda: SAGA_DURATION.labels(outcome).observe(seconds))


def payment_outcome(outcome: str) -> None:
    _later(lambda: PAYMENT_OUTCOMES.labels(outcome).inc())


def compensation(kind: str) -> None:
    _later(lambda: COMPENSATIONS.labels(kind).inc())


def mismatch(kind: str) -> None:
    MISMATCHES.labels(kind).inc()
