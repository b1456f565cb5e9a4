"""Prometheus metrics: django-prometheus for HTTP/DB/cache, plus Celery and messaging metrics
(their counters are the messaging's own: service_kit.messaging.metrics).

Web processes and the worker of one service share ``PROMETHEUS_MULTIPROC_DIR``, so the service's
``/metrics`` adds up every process of it, the worker's task counts included. Latency histograms
are :class:`service_kit.exemplars.Histogram`: their buckets name a trace (OpenMetrics only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import prometheus_client
from django.http import HttpRequest, HttpResponse
from django_prometheus import middleware as django_prometheus  # type: ignore[import-untyped]
from prometheus_client.core import GaugeMetricFamily

from service_kit import exemplars

# Its counters, so that this process's /metrics names them before any has counted.
from service_kit.messaging import metrics as _messaging_counters  # noqa: F401


class _Metrics(django_prometheus.Metrics):  # type: ignore[misc]
    """django-prometheus's request metrics, its latency histograms with exemplars."""

    def register_metric(
        self, metric_cls: Any, name: str, documentation: str, labelnames: Any = (), **kwargs: Any
    ) -> Any:
        if metric_cls is prometheus_client.Histogram and "latency" in name:
            metric_cls = exemplars.Histogram
        return super().register_metric(metric_cls, name, documentation, labelnames, **kwargs)


class PrometheusBeforeMiddleware(django_prometheus.PrometheusBeforeMiddleware):  # type: ignore[misc]
    metrics_cls = _Metrics


class PrometheusAfterMiddleware(django_prometheus.PrometheusAfterMiddleware):  # type: ignore[misc]
    metrics_cls = _Metrics


class OutboxCollector:
    """Outbox lag and dead letters waiting for an operator, read from this service's database at
    scrape time (so they stay true across restarts and whichever process is scraped)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from service_kit.messaging.outbox import outbox_stats
        from service_kit.models import DeadLetter

        try:
            pending, age = outbox_stats()
            waiting = list(
                DeadLetter.objects.filter(replayed_at__isnull=True)
                .values_list("task")
                .annotate(count=Count("id"))
                .order_by()
            )
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


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every process's metrics and the outbox's, in OpenMetrics (latency buckets with their
    exemplars: service_kit.exemplars) when the scraper asks for it, else the classic format."""
    output, content_type = exemplars.encode(
        exemplars.Combined(exemplars.process_registry(), _outbox),
        request.headers.get("Accept"),
    )
    return HttpResponse(output, content_type=content_type)


_outbox = OutboxCollector()
