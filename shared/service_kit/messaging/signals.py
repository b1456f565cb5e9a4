"""Celery signal hooks: request ids and the sender's identity on every message, task metrics,
the relay's reset in a forked worker and its flush at shutdown. Connected when the messaging
package is imported (its ``__init__``), so before any app is made."""

from __future__ import annotations

import time
from typing import Any

from celery import Task, signals

from service_kit.context import current_request_id, request_id_var

from .app import broker_user, get_celery_app
from .metrics import CELERY_TASK_DURATION, CELERY_TASKS

_started: dict[str, float] = {}


@signals.before_task_publish.connect
def _add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None and not headers.get("request_id"):
        headers["request_id"] = current_request_id()


@signals.before_task_publish.connect
def _add_sender(properties: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Every message says which broker user sent it (AMQP's ``user_id``): RabbitMQ refuses one
    that is not the connection's own, so consumers can trust it (consumer.sender_problem)."""
    user = broker_user(get_celery_app())
    if properties is not None and user:
        properties.setdefault("user_id", user)


@signals.task_prerun.connect
def _task_started(task_id: str, task: Task[Any, Any], **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()
    request_id = getattr(task.request, "request_id", None)
    if request_id:
        request_id_var.set(request_id)


@signals.task_postrun.connect
def _task_finished(
    task_id: str, task: Task[Any, Any], state: str | None = None, **kwargs: Any
) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        CELERY_TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    CELERY_TASKS.labels(task.name, (state or "unknown").lower()).inc()
    request_id_var.set(None)


@signals.worker_process_init.connect
def _reset_after_fork(**kwargs: Any) -> None:
    from .outbox import relay  # models: loaded once Django's apps are

    relay.reset()


@signals.worker_shutting_down.connect
def _flush_relay(**kwargs: Any) -> None:
    from .outbox import relay

    relay.flush(timeout=5)
