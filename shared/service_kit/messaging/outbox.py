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
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Min
from django.utils import timezone

from service_kit.models import OutboxMessage
from service_kit.redaction import redacted

from .app import DOMAIN_COMMANDS, DOMAIN_EVENTS, command_queue, event_task_name, get_celery_app
from .envelope import Envelope

logger = logging.getLogger(__name__)


def publish_event(event_type: str, data: dict, *, using: str | None = None) -> OutboxMessage:
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


def send_command(command: str, data: dict, *, using: str | None = None) -> OutboxMessage:
    """Ask one service to do something (``inventory.reserve`` → queue ``inventory.reserve``,
    through the topic exchange ``domain_commands``)."""
    envelope = Envelope.new(command, data)
    return _enqueue(
        OutboxMessage.Kind.COMMAND, command, command, DOMAIN_COMMANDS.name, envelope, using
    )


def _enqueue(kind, name, routing_key, exchange, envelope, using) -> OutboxMessage:
    message = OutboxMessage(
        id=envelope.id,
        kind=kind,
        name=name,
        routing_key=routing_key,
        exchange=exchange,
        envelope=envelope.as_dict(),
    )
    message.save(using=using, force_insert=True)
    transaction.on_commit(lambda: relay.submit(message.id), using=using)
    return message


def send_to_broker(message: OutboxMessage) -> None:
    """Publish one outbox row (raises when the broker cannot be reached)."""
    app = get_celery_app()
    options = {
        "task_id": str(message.id),
        "headers": {"request_id": message.envelope.get("request_id")},
        "retry": True,
    }
    # The exchange only: the target's queue and bindings are its own (and the broker's
    # definitions'), which the sender may not declare. The embedded profile's broker has no
    # definitions: there the sender declares a command's queue, so it waits for its worker.
    exchange = DOMAIN_EVENTS if message.kind == OutboxMessage.Kind.EVENT else DOMAIN_COMMANDS
    declare = [exchange]
    if message.kind == OutboxMessage.Kind.COMMAND and settings.PLATFORM_PROFILE == "embedded":
        declare.append(command_queue(message.routing_key))
    options.update(exchange=exchange, routing_key=message.routing_key, declare=declare)
    app.send_task(message.name, args=[message.envelope], **options)
    from service_kit.ops.metrics import MESSAGES_PUBLISHED

    MESSAGES_PUBLISHED.labels(message.kind, message.name).inc()


def _publish_one(message: OutboxMessage) -> bool:
    try:
        send_to_broker(message)
    except Exception as exc:  # noqa: BLE001 - the broker's trouble is the sweep's job
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=message.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.warning(
            "outbox.publish_failed", extra={"message_id": str(message.pk), "error": str(exc)[:300]}
        )
        return False
    scrubbed = redacted(message.envelope)
    OutboxMessage.objects.filter(pk=message.pk, published_at__isnull=True).update(
        published_at=timezone.now(),
        attempts=message.attempts + 1,
        **({"envelope": scrubbed} if scrubbed != message.envelope else {}),
    )
    return True


def sweep(*, older_than: float | None = None, limit: int = 500) -> int:
    """Publish rows the relay did not; returns how many went out."""
    age = settings.MESSAGING["OUTBOX_SWEEP_AGE"] if older_than is None else older_than
    cutoff = timezone.now() - timedelta(seconds=age)
    pending = OutboxMessage.objects.filter(published_at__isnull=True, created_at__lte=cutoff)
    pending = pending.order_by("created_at")
    if connection.features.has_select_for_update_skip_locked:
        # Several workers may sweep at once: each takes rows the others have not locked.
        with transaction.atomic():
            sent = _publish_all(pending.select_for_update(skip_locked=True)[:limit])
    else:
        # SQLite: no row locks, and a transaction would hold the write lock while publishing.
        sent = _publish_all(pending[:limit])
    if sent:
        logger.info("outbox.swept", extra={"count": sent})
    return sent


def _publish_all(messages) -> int:
    sent = 0
    for message in messages:
        if not _publish_one(message):
            break  # broker down: stop here, the next sweep goes on
        sent += 1
    return sent


def outbox_stats() -> tuple[int, float]:
    pending = OutboxMessage.objects.filter(published_at__isnull=True)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return pending.count(), age


class Relay:
    """One daemon thread per process that publishes committed outbox rows."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.__init__()

    def submit(self, message_id) -> None:
        if self._pid != os.getpid():
            self.reset()
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="outbox-relay", daemon=True
                    )
                    self._thread.start()
        self._queue.put(message_id)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far was tried (tests, graceful shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        if self._thread is not None:
            done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                close_old_connections()
                message = OutboxMessage.objects.filter(pk=item, published_at__isnull=True).first()
                if message is not None:
                    _publish_one(message)
            except Exception:
                logger.exception("outbox.relay_error")
            finally:
                close_old_connections()


relay = Relay()
