"""Prometheus metrics: django-prometheus for HTTP/DB/cache, plus Celery and messaging metrics.

Web processes and the worker of one service share ``PROMETHEUS_MULTIPROC_DIR``, so the service's
``/metrics`` adds up every process of it, the worker's task counts included.
"""

from __future__ import annotations

import os

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

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


class OutboxCollector:
    """Outbox lag and dead letters waiting for an operator, read from this service's database at
    scrape time (so they stay true across restarts and whichever process is scraped)."""

    def collect(self):
        from django.db.models import Count

        from service_kit.messaging.outbox import outbox_stats
        from service_kit.models import DeadLetter

        try:
            pending, age = outbox_stats()
            waiting = (
                DeadLetter.objects.filter(replayed_at__isnull=True)
                .values_list("task")
                .annotate(count=Count("id"))
                .order_by()
            )
            waiting = list(waiting)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return
        yield GaugeMetricFamily("outbox_pending_messages", "Outbox rows not yet published", pending)
        yield GaugeMetricFamily(
            "outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", age
        )
        letters = GaugeMetricFamily(
            "messaging_dead_letters_waiting",
            "Dead letters not replayed yet, by task",
            labels=["task"],
        )
        for task, count in waiting:
            letters.add_metric([task], count)
        yield letters


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    output += generate_latest(_outbox_registry)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


_outbox_registry = CollectorRegistry(auto_describe=False)
_outbox_registry.register(OutboxCollector())
