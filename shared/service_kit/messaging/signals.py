"""Celery signal hooks: request ids and the sender's identity on every message, task metrics,
relay flush at shutdown."""

from __future__ import annotations

import time

from celery import signals

from service_kit.ops.context import current_request_id, request_id_var
from service_kit.ops.metrics import CELERY_TASK_DURATION, CELERY_TASKS

_started: dict[str, float] = {}


@signals.before_task_publish.connect
def _add_request_id(headers=None, **kwargs):
    if headers is not None and not headers.get("request_id"):
        headers["request_id"] = current_request_id()


@signals.before_task_publish.connect
def _add_sender(properties=None, **kwargs):
    """Every message says which broker user sent it (AMQP's ``user_id``): RabbitMQ refuses one
    that is not the connection's own, so consumers can trust it (consumer.sender_problem)."""
    from .app import broker_user, get_celery_app

    user = broker_user(get_celery_app())
    if properties is not None and user:
        properties.setdefault("user_id", user)


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    _started[task_id] = time.perf_counter()
    request_id = getattr(task.request, "request_id", None)
    if request_id:
        request_id_var.set(request_id)


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    if started is not None:
        CELERY_TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    CELERY_TASKS.labels(task.name, (state or "unknown").lower()).inc()
    request_id_var.set(None)


@signals.worker_shutting_down.connect
def _flush_relay(**kwargs):
    from .outbox import relay

    relay.flush(timeout=5)
