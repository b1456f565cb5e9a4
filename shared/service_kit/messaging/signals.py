"""Celery signal hooks: request ids and the sender's identity on every message, task metrics,
a worker's database connections kept from task to task, the relay's reset in a forked worker and
its flush at shutdown. Connected when the messaging package is imported (its ``__init__``), so
before any app is made."""

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


@signals.worker_init.connect
def _keep_database_connections(**kwargs: Any) -> None:
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        keep_connections(connections.settings[alias], settings.DB_WORKER_CONN_MAX_AGE)


def keep_connections(database: dict[str, Any], age: int) -> None:
    """A worker's threads keep their PostgreSQL connection from task to task (``database``, one
    entry of ``DATABASES``, changed in place before the worker connects).

    A web process takes a connection from its pool per request. A worker's few threads (and its
    outbox relay) would do the same per task, each time paying the pool's checkout, its health
    check and the connection's set-up again. Instead each thread keeps its own connection for
    ``age`` seconds (``DB_WORKER_CONN_MAX_AGE``, default 300; 0 keeps the pool), checked once
    per task before it is used (``CONN_HEALTH_CHECKS``) and closed at the end of a task that
    broke it, as Django does for a request (Celery's Django fix-up calls it around each task)."""
    options = database.get("OPTIONS") or {}
    if age and "pool" in options:
        database["OPTIONS"] = {k: v for k, v in options.items() if k != "pool"}
        database["CONN_MAX_AGE"] = age


@signals.worker_process_init.connect
def _reset_after_fork(**kwargs: Any) -> None:
    from .outbox import relay  # models: loaded once Django's apps are

    relay.reset()


@signals.worker_shutting_down.connect
def _flush_relay(**kwargs: Any) -> None:
    from .outbox import relay

    relay.flush(timeout=5)
