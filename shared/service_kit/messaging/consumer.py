"""Idempotent consumers: ``@event_handler("order.confirmed")`` and ``@command_handler(...)``.

The handler runs inside a transaction that also records the message id in the inbox
(:class:`ProcessedMessage`): a message delivered twice is applied once. A payload that breaks its
schema goes straight to dead letters; a handler that keeps raising is retried on this service's
own queue (never back through the exchange, which would reach every subscriber again) and ends in
dead letters after ``MESSAGING["MAX_RETRIES"]`` tries.

A consumer reads the major its declaration names (``<service>/contracts/reads.json``, see
:func:`~service_kit.messaging.schemas.read_majors`) at any minor; another major it knows is
skipped (its producer emits both side by side), one it does not know goes to dead letters as
``unknown_version``.

A message is applied only from a service allowed to send its type (the registry's ``senders``),
as the broker authenticated it (AMQP ``user_id``, which RabbitMQ checks against the connection's
user; the kit's publishers set it); a retry or replay only from this service itself, on this
queue's retry key. Anything else goes to dead letters as ``forbidden_sender``, unapplied.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from service_kit import tracing
from service_kit.context import request_id_var
from service_kit.models import DeadLetter, ProcessedMessage
from service_kit.redaction import redacted, was_redacted

from .app import direct_to, event_task_name, events_queue_name, retry_key
from .envelope import Envelope, InvalidMessage, UnknownVersion
from .metrics import DEAD_LETTERS, DUPLICATES
from .schemas import read_majors, registry

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], Any]


class ConsumerTask(Task[Any, Any]):
    acks_late = True
    max_retries = None  # counted by the kit (MESSAGING["MAX_RETRIES"]), see run_handler
    handler: Handler
    queue_name: str
    message_type: str

    def run_handler(self, raw: Any) -> str:
        try:
            envelope = Envelope.parse(raw)
            if envelope.type != self.message_type:
                raise InvalidMessage(f"a {envelope.type} on the handler of {self.message_type}")
        except UnknownVersion as exc:
            dead_letter(self, raw, DeadLetter.Reason.UNKNOWN_VERSION, str(exc))
            return "unknown_version"
        except InvalidMessage as exc:
            dead_letter(self, raw, DeadLetter.Reason.INVALID, str(exc))
            return "invalid"
        reads = read_majors(settings.SERVICE_NAME).get(envelope.type)
        if reads is not None and envelope.major != reads:
            # A known major this service does not read: its producer sends the one it reads too.
            logger.info(
                "message.other_major",
                extra={"message_id": envelope.id, "task": self.name, "version": envelope.version},
            )
            return "other_major"
        if problem := self.sender_problem(envelope):
            dead_letter(self, raw, DeadLetter.Reason.FORBIDDEN, problem)
            return "forbidden_sender"
        token = request_id_var.set(envelope.request_id)
        delivery = self.request.delivery_info or {}
        try:
            with tracing.consumer_span(
                raw, self.queue_name, delivery.get("routing_key") or self.queue_name
            ):
                return self._apply(envelope, raw)
        finally:
            request_id_var.reset(token)

    def sender_problem(self, envelope: Envelope) -> str:
        """Why the authenticated sender may not send this message ("" when it may)."""
        if settings.PLATFORM_PROFILE == "embedded":
            return ""  # the filesystem broker has no users: nothing authenticates a sender
        sender = (self.request.properties or {}).get("user_id")
        delivery = self.request.delivery_info or {}
        if delivery.get("routing_key") == retry_key(self.queue_name):
            allowed: tuple[str, ...] = (settings.SERVICE_NAME,)  # a retry or replay of our own
        else:
            allowed = registry[envelope.type].senders
            if envelope.producer != sender:
                return f"producer {envelope.producer!r} is not the sender {sender!r}"
        if sender not in allowed:
            return f"{envelope.type} sent by {sender!r}, allowed only from {', '.join(allowed)}"
        return ""

    def _apply(self, envelope: Envelope, raw: Any) -> str:
        try:
            with transaction.atomic():
                if not claim(envelope.id, self.name):
                    DUPLICATES.labels(self.name).inc()
                    logger.info(
                        "message.duplicate", extra={"message_id": envelope.id, "task": self.name}
                    )
                    return "duplicate"
                self.handler(envelope)
        except Exception as exc:
            attempts = self.request.retries + 1
            if attempts > settings.MESSAGING["MAX_RETRIES"]:
                dead_letter(
                    self,
                    raw,
                    DeadLetter.Reason.FAILED,
                    "".join(traceback.format_exception(exc))[-8000:],
                    attempts,
                )
                return "dead_letter"
            delivery = self.request.delivery_info or {}
            logger.warning(
                "message.retry",
                extra={
                    "message_id": envelope.id,
                    "task": self.name,
                    "attempt": attempts,
                    "error": str(exc)[:300],
                    "delivered_via": f"{delivery.get('exchange')}/{delivery.get('routing_key')}",
                },
            )
            delay = settings.MESSAGING["RETRY_BACKOFF"] * (2 ** (attempts - 1))
            # Back to this service's own queue only: the exchange would reach every subscriber.
            raise self.retry(exc=exc, countdown=delay, **direct_to(self.queue_name)) from exc
        return "applied"


def claim(message_id: str, handler: str) -> bool:
    """Record ``message_id`` as applied by ``handler`` in the caller's transaction: ``False`` when
    it already is. One ``INSERT … ON CONFLICT DO NOTHING`` (no savepoint): a second delivery
    running at once waits on the unique index until the first commits, then inserts nothing (or
    goes on, when the first rolled back)."""
    meta = ProcessedMessage._meta
    fields = {field.name: field for field in meta.concrete_fields}
    values = [
        fields[name].get_db_prep_value(value, connection)
        for name, value in (
            ("message_id", uuid.UUID(str(message_id))),
            ("handler", handler),
            ("processed_at", timezone.now()),
        )
    ]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({quote('message_id')}, {quote('handler')}, "  # noqa: S608 - names from the model, quoted; values are parameters
        f"{quote('processed_at')}) VALUES (%s, %s, %s) "
        f"ON CONFLICT ({quote('message_id')}, {quote('handler')}) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return bool(cursor.rowcount == 1)


def dead_letter(
    task: ConsumerTask, raw: Any, reason: str, error: str, attempts: int = 1
) -> DeadLetter:
    message_id = str(raw.get("id")) if isinstance(raw, dict) else str(task.request.id)
    letter = DeadLetter.objects.create(
        message_id=message_id[:64],
        task=task.name,
        queue=task.queue_name,
        # Kept until an operator acts, and shown in the admin: never with a secret in it.
        envelope=redacted(raw) if isinstance(raw, dict) else {"raw": repr(redacted(raw))[:8000]},
        reason=reason,
        error=error,
        attempts=attempts,
    )
    DEAD_LETTERS.labels(task.name, reason).inc()
    logger.error(
        "message.dead_letter", extra={"message_id": message_id, "task": task.name, "reason": reason}
    )
    return letter


def _register(name: str, message_type: str, queue_name: str, handler: Handler) -> ConsumerTask:
    def run(self: ConsumerTask, raw: Any) -> str:
        return self.run_handler(raw)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    task = shared_task(
        bind=True,
        base=ConsumerTask,
        name=name,
        handler=staticmethod(handler),
        queue_name=queue_name,
        message_type=message_type,
    )(run)
    return task


def event_handler(event_type: str) -> Callable[[Handler], ConsumerTask]:
    """Apply ``event_type`` (``order.confirmed``) from this service's ``<service>.events`` queue.

    The service must list the type in ``consumes`` so its queue is bound to it."""

    def decorator(handler: Handler) -> ConsumerTask:
        return _register(
            event_task_name(event_type),
            event_type,
            events_queue_name(settings.SERVICE_NAME),
            handler,
        )

    return decorator


def command_handler(command: str) -> Callable[[Handler], ConsumerTask]:
    """Carry out ``command`` (``inventory.reserve``) from its own queue of the same name."""

    def decorator(handler: Handler) -> ConsumerTask:
        return _register(command, command, command, handler)

    return decorator


class NotReplayable(ValueError):
    """The letter cannot be sent again as it is: it lost a secret its handler needs (a card
    token: its sender must send it again; for a charge, the order admin's "retry the stuck
    step"), or it was refused for its sender (a replay would come from this service, which its
    queue trusts)."""


def replay(letter: DeadLetter) -> None:
    """Send a dead letter's message again, to this service's queue that had it (raises
    :class:`NotReplayable`, see there)."""
    if letter.reason == DeadLetter.Reason.FORBIDDEN:
        logger.warning("message.replay_refused", extra={"message_id": letter.message_id})
        raise NotReplayable(f"{letter.task} {letter.message_id} came from a sender not allowed")
    if was_redacted(letter.envelope):
        raise NotReplayable(f"{letter.task} {letter.message_id} carried a secret that is not kept")

    from .app import get_celery_app

    get_celery_app().send_task(
        letter.task,
        args=[letter.envelope],
        **direct_to(letter.queue),
        task_id=f"{letter.message_id}-replay-{letter.replay_count + 1}",
        headers={"request_id": letter.envelope.get("request_id")},
    )
    DeadLetter.objects.filter(pk=letter.pk).update(
        replayed_at=timezone.now(), replay_count=letter.replay_count + 1
    )
