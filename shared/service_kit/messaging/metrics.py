"""The messaging's Prometheus counters: Celery tasks, messages published, dead letters and
duplicates. They are served with every other metric at ``/metrics`` (service_kit.ops.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

from service_kit.exemplars import Histogram

CELERY_TASKS = Counter(
    "celery_tasks_total", "Celery tasks run, by task name and outcome", ["task", "state"]
)
CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "Time a Celery task took to run",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MESSAGES_PUBLISHED = Counter(
    "messaging_published_total", "Messages published from the outbox", ["kind", "name"]
)
DEAD_LETTERS = Counter(
    "messaging_dead_letters_total", "Messages moved to dead letters", ["task", "reason"]
)
DUPLICATES = Counter(
    "messaging_duplicates_total", "Deliveries skipped as already processed", ["task"]
)
