"""Retention: published outbox rows, inbox rows and expired idempotency keys are purged once past
their age; unpublished rows, recent rows and dead letters stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from service_kit import retention
from service_kit.messaging.app import get_celery_app
from service_kit.messaging.tasks import retention_purge
from service_kit.models import DeadLetter, IdempotencyKey, OutboxMessage, ProcessedMessage

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def outbox(age_days: float, *, published: bool) -> OutboxMessage:
    row = OutboxMessage.objects.create(
        kind="event", name="note.created", routing_key="note.created", envelope={}
    )
    created = NOW - timedelta(days=age_days)
    OutboxMessage.objects.filter(pk=row.pk).update(
        created_at=created, published_at=created if published else None
    )
    return row


def processed(age_days: float) -> ProcessedMessage:
    row = ProcessedMessage.objects.create(message_id=uuid.uuid4(), handler="notes.on_created")
    ProcessedMessage.objects.filter(pk=row.pk).update(processed_at=NOW - timedelta(days=age_days))
    return row


def idempotency_key(expires_in: timedelta) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        caller="user:1",
        key=uuid.uuid4().hex,
        method="POST",
        path="/api/v1/notes/",
        request_hash="0" * 64,
        expires_at=NOW + expires_in,
    )


def purged(table: str) -> float:
    return REGISTRY.get_sample_value("retention_purged_rows_total", {"table": table}) or 0.0


def test_rows_past_their_age_go_and_the_rest_stays():
    old_sent, recent_sent, old_unsent = (
        outbox(8, published=True),
        outbox(1, published=True),
        outbox(30, published=False),  # never published: the sweep still owes it to the broker
    )
    old_inbox, recent_inbox = processed(15), processed(13)
    expired, live = idempotency_key(-timedelta(seconds=1)), idempotency_key(timedelta(hours=1))
    letter = DeadLetter.objects.create(
        message_id="m", task="t", queue="q", envelope={}, reason="failed", error="boom"
    )
    DeadLetter.objects.filter(pk=letter.pk).update(created_at=NOW - timedelta(days=365))
    before = purged("outbox")

    removed = retention.purge(now=NOW)

    assert removed == {"outbox": 1, "processed_messages": 1, "idempotency_keys": 1}
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        recent_sent.pk,
        old_unsent.pk,
    }
    assert list(ProcessedMessage.objects.values_list("pk", flat=True)) == [recent_inbox.pk]
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [live.pk]
    assert DeadLetter.objects.filter(pk=letter.pk).exists()
    assert purged("outbox") == before + 1
    assert not OutboxMessage.objects.filter(pk=old_sent.pk).exists()
    assert not ProcessedMessage.objects.filter(pk=old_inbox.pk).exists()
    assert not IdempotencyKey.objects.filter(pk=expired.pk).exists()


def test_ages_are_configurable_and_a_backlog_goes_in_batches(settings):
    settings.RETENTION = {"PROCESSED_DAYS": 1, "BATCH": 2}
    for _ in range(5):
        processed(2)
    processed(0.5)

    assert retention.purge(now=NOW)["processed_messages"] == 5
    assert ProcessedMessage.objects.count() == 1


def test_ages_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION_OUTBOX_DAYS", "0.5")
    outbox(1, published=True)

    assert retention.purge(now=NOW)["outbox"] == 1


def test_beat_runs_the_purge_hourly_on_the_services_own_queue():
    app = get_celery_app()
    entry = app.conf.beat_schedule["retention-purge"]

    assert entry["task"] == "service_kit.retention_purge"
    assert entry["schedule"] == timedelta(hours=1)
    assert entry["options"]["queue"].endswith(".tasks")
    outbox(8, published=True)
    assert retention_purge.apply().get()["outbox"] == 1
