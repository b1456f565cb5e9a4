"""The transactional outbox: publish in the caller's transaction, relay on commit, sweep later.

``publish_event("order.confirmed", {...})`` writes an :class:`OutboxMessage` in the current
transaction. When it commits, a background relay thread of this process sends it to the broker;
the request never waits for the broker and never fails because of it. Rows the relay could not
send (broker down, process killed) are sent by the periodic sweep. The row's id is the message id
and the Celery task id, so consumers can drop a message delivered twice. Once published, the row
keeps no secret (``payment.charge``'s card token): the broker holds the message its consumer needs,
and the row is kept for days (retention) and shown in the admin.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Min
from django.utils import timezone
from kombu import Exchange, Queue

from service_kit import tracing
from service_kit.models import OutboxMessage
from service_kit.redaction import redacted

from .app import DOMAIN_COMMANDS, DOMAIN_EVENTS, command_queue, event_task_name, get_celery_app
from .envelope import Envelope
from .metrics import MESSAGES_PUBLISHED

logger = logging.getLogger(__name__)


def publish_event(
    event_type: str, data: dict[str, Any], *, using: str | None = None
) -> OutboxMessage:
    """Announce a fact to every service bound to it (topic exchange ``domain_events``)."""
    envelope = Envelope.new(event_type, data)
    return _enqueue(
        OutboxMessage.Kind.EVENT,
        event_task_name(event_type),
        event_type,
        DOMAIN_EVENTS.name,
        envelope,
        using,
    )


def send_command(command: str, data: dict[str, Any], *, using: str | None = None) -> OutboxMessage:
    """Ask one service to do something (``inventory.reserve`` → queue ``inventory.reserve``,
    through the topic exchange ``domain_commands``)."""
    envelope = Envelope.new(command, data)
    return _enqueue(
        OutboxMessage.Kind.COMMAND, command, command, DOMAIN_COMMANDS.name, envelope, using
    )


def _enqueue(
    kind: str, name: str, routing_key: str, exchange: str, envelope: Envelope, using: str | None
) -> OutboxMessage:
    message = OutboxMessage(
        id=envelope.id,
        kind=kind,
        name=name,
        routing_key=routing_key,
        exchange=exchange,
        envelope=envelope.as_dict(),
    )
    message.save(using=using, force_insert=True)
    transaction.on_commit(lambda: relay.submit(message), using=using)
    return message


def send_to_broker(message: OutboxMessage, publisher: str = "relay") -> None:
    """Publish one outbox row (raises when the broker cannot be reached). ``publisher``, the
    relay or the sweep, is named on the trace's PRODUCER span."""
    app = get_celery_app()
    # kombu's Exchange and Queue objects go through send_task's **options (the stubs say str)
    options: dict[str, Any] = {
        "task_id": str(message.id),
        "headers": {"request_id": message.envelope.get("request_id")},
        "retry": True,
        # What Celery logs for the arguments ("received", "succeeded"; also a header): a short
        # label, not a repr of the whole envelope made at each send and logged twice per delivery
        # (the task id is the message id; a card token would otherwise ride in that header).
        "argsrepr": f"[<{message.name} envelope>]",
        "kwargsrepr": "{}",
    }
    # The exchange only: the target's queue and bindings are its own (and the broker's
    # definitions'), which the sender may not declare. The embedded profile's broker has no
    # definitions: there the sender declares a command's queue, so it waits for its worker.
    exchange = DOMAIN_EVENTS if message.kind == OutboxMessage.Kind.EVENT else DOMAIN_COMMANDS
    declare: list[Exchange | Queue] = [exchange]
    if message.kind == OutboxMessage.Kind.COMMAND and settings.PLATFORM_PROFILE == "embedded":
        declare.append(command_queue(message.routing_key))
    options.update(exchange=exchange, routing_key=message.routing_key, declare=declare)
    with tracing.producer_span(
        message.envelope, exchange.name, message.routing_key, publisher
    ) as envelope:
        # The producer's context in the headers too: Celery's own task span joins the trace.
        options["headers"].update(envelope.get("trace") or {})
        app.send_task(message.name, args=[envelope], **options)
    MESSAGES_PUBLISHED.labels(message.kind, message.name).inc()


def _publish_all(messages: Iterable[OutboxMessage], publisher: str) -> int:
    """Publish rows in order, up to the first the broker refuses; then mark those sent as
    published in one UPDATE (one more for each row whose envelope loses a secret). Returns how
    many went out. ``publisher`` (``relay`` or ``sweep``) names who sent them on the producer
    span. A process that dies between the two sends them again from the sweep: the consumers'
    inbox drops the second copy."""
    sent: list[OutboxMessage] = []
    for message in messages:
        try:
            send_to_broker(message, publisher)
        except Exception as exc:  # noqa: BLE001 - the broker's trouble is the sweep's job
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            logger.warning(
                "outbox.publish_failed",
                extra={"message_id": str(message.pk), "error": str(exc)[:300]},
            )
            break  # broker down: the next sweep goes on from here
        sent.append(message)
    now, plain = timezone.now(), []
    for message in sent:
        scrubbed = redacted(message.envelope)
        if scrubbed == message.envelope:
            plain.append(message.pk)
        else:
            _published([message.pk], now, envelope=scrubbed)
    if plain:
        _published(plain, now)
    return len(sent)


def _published(ids: list[Any], now: datetime, **fields: Any) -> None:
    OutboxMessage.objects.filter(pk__in=ids, published_at__isnull=True).update(
        published_at=now, attempts=F("attempts") + 1, **fields
    )


def sweep(*, older_than: float | None = None, limit: int = 500) -> int:
    """Publish rows the relay did not; returns how many went out."""
    age = settings.MESSAGING["OUTBOX_SWEEP_AGE"] if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=age)
    pending = OutboxMessage.objects.filter(published_at__isnull=True, created_at__lte=cutoff)
    pending = pending.order_by("created_at")
    if connection.features.has_select_for_update_skip_locked:
        # Several workers may sweep at once: each takes rows the others have not locked.
        with transaction.atomic():
            sent = _publish_all(pending.select_for_update(skip_locked=True)[:limit], "sweep")
    else:
        # SQLite: no row locks, and a transaction would hold the write lock while publishing.
        sent = _publish_all(pending[:limit], "sweep")
    if sent:
        logger.info("outbox.swept", extra={"count": sent})
    return sent


def outbox_stats() -> tuple[int, float]:
    pending = OutboxMessage.objects.filter(published_at__isnull=True)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return pending.count(), age


#: Most rows the relay takes from its queue at once (one connection and one UPDATE for them all).
RELAY_BATCH = 100


class Relay:
    """One daemon thread per process that publishes committed outbox rows: whatever has queued
    up since its last round, with one connection and one UPDATE for all of them.

    It is handed the rows themselves, as committed: a row younger than half the sweep's age
    cannot have been taken by the sweep, so it is sent without reading it again; older ones (the
    relay fell behind) are read first, and those the sweep published meanwhile are skipped."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A fresh queue, thread and lock (after a fork, whose copies of them are unusable)."""
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def submit(self, message: OutboxMessage) -> None:
        if self._pid != os.getpid():
            self.reset()
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="outbox-relay", daemon=True
                    )
                    self._thread.start()
        self._queue.put(message)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far was tried (tests, graceful shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        if self._thread is not None:
            done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < RELAY_BATCH:  # whatever else is waiting: one connection, one write
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            messages = [item for item in batch if isinstance(item, OutboxMessage)]
            if messages:
                self._publish(messages)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()

    @staticmethod
    def _publish(messages: list[OutboxMessage]) -> None:
        try:
            close_old_connections()
            age = settings.MESSAGING["OUTBOX_SWEEP_AGE"] / 2
            swept_from = timezone.now() - timedelta(seconds=age)
            old = [m.pk for m in messages if m.created_at is None or m.created_at <= swept_from]
            if old:  # the sweep may have published these meanwhile
                published = OutboxMessage.objects.filter(pk__in=old, published_at__isnull=False)
                done = {str(pk) for pk in published.values_list("pk", flat=True)}
                messages = [m for m in messages if str(m.pk) not in done]
            _publish_all(messages, "relay")  # in the order they were committed
        except Exception:
            logger.exception("outbox.relay_error")
        finally:
            close_old_connections()


relay = Relay()
