"""Retention: the kit's bookkeeping tables are purged once their rows can no longer matter.

- published outbox rows, after ``RETENTION_OUTBOX_DAYS`` (default 7): kept a while to answer
  "was this event sent, and when?";
- inbox rows (:class:`ProcessedMessage`), after ``RETENTION_PROCESSED_DAYS`` (default 14): far
  longer than any redelivery (broker requeue, outbox sweep, dead-letter replay within two weeks);
- idempotency keys, once expired (``IDEMPOTENCY_KEY_TTL``, 24 h);
- a service's own tables, named in ``RETENTION["TABLES"]``: table name → dotted path of a
  function ``(*, now)`` answering the queryset of rows past their use (auth_service: expired
  refresh-token records).

Dead letters are never purged here: an operator replays or deletes them. Beat runs
:func:`purge` hourly on the service's own queue; each table is deleted in batches so a backlog
never holds a long lock, and ``retention_purged_rows_total{table}`` counts what went.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import Counter

from service_kit.conf import env_value
from service_kit.models import IdempotencyKey, OutboxMessage, ProcessedMessage

logger = logging.getLogger(__name__)

PURGED = Counter("retention_purged_rows_total", "Rows removed by the retention purge", ["table"])
DEFAULTS = {"OUTBOX_DAYS": 7.0, "PROCESSED_DAYS": 14.0, "BATCH": 5000}


def retention_settings() -> dict[str, Any]:
    """``settings.RETENTION`` over ``RETENTION_<NAME>`` environment values over the defaults."""
    values = {
        name: type(default)(env_value(f"RETENTION_{name}", str(default)))
        for name, default in DEFAULTS.items()
    }
    return {**values, **getattr(settings, "RETENTION", {})}


def _delete_in_batches(queryset: QuerySet[Any], batch: int) -> int:
    total = 0
    while ids := list(queryset.values_list("pk", flat=True)[:batch]):
        deleted, _ = queryset.model.objects.filter(pk__in=ids).delete()
        total += deleted
    return total


def purge(now: datetime | None = None) -> dict[str, int]:
    """Deletes what is past its age; answers the rows removed per table."""
    now = now or timezone.now()
    conf = retention_settings()
    batch = int(conf["BATCH"])
    targets: dict[str, QuerySet[Any]] = {
        # created_at carries the index; a row is published soon after it is created
        "outbox": OutboxMessage.objects.filter(
            published_at__isnull=False, created_at__lt=now - timedelta(days=conf["OUTBOX_DAYS"])
        ),
        "processed_messages": ProcessedMessage.objects.filter(
            processed_at__lt=now - timedelta(days=conf["PROCESSED_DAYS"])
        ),
        "idempotency_keys": IdempotencyKey.objects.filter(expires_at__lte=now),
    }
    for table, path in conf.get("TABLES", {}).items():
        targets[table] = import_string(path)(now=now)
    removed: dict[str, int] = {}
    for table, queryset in targets.items():
        removed[table] = _delete_in_batches(queryset, batch)
        PURGED.labels(table).inc(removed[table])
    logger.info("retention.purged", extra={"retention": removed})
    return removed
