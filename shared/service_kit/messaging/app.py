"""The Celery app factory: every service's worker, queues and periodic tasks, one way."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Queue, binding

from .transport import TRANSPORT

DOMAIN_EVENTS = Exchange("domain_events", type="topic", durable=True)
#: Commands, retries and a service's own tasks: routing key = command name (``inventory.reserve``),
#: ``retry.<queue>`` or ``<service>.tasks``. A topic exchange, so the broker's topic permissions
#: decide which service may write which key; no service writes to the default exchange, which
#: reaches every queue by its name.
DOMAIN_COMMANDS = Exchange("domain_commands", type="topic", durable=True)

_app: Celery | None = None


def event_task_name(event_type: str) -> str:
    return f"events.{event_type}"


def events_queue_name(service: str) -> str:
    return f"{service}.events"


def tasks_queue_name(service: str) -> str:
    return f"{service}.tasks"


def retry_key(queue_name: str) -> str:
    """The routing key that reaches exactly this queue again (retries, dead-letter replays): only
    the queue's own service may write it."""
    return f"retry.{queue_name}"


def command_queue(name: str) -> Queue:
    """The queue of a command ``<service>.<verb>``: bound to its name and its retry key."""
    return Queue(
        name,
        bindings=[
            binding(DOMAIN_COMMANDS, routing_key=name),
            binding(DOMAIN_COMMANDS, routing_key=retry_key(name)),
        ],
        durable=True,
    )


def direct_to(queue_name: str) -> dict[str, Any]:
    """Publish options that put a message on exactly this service's queue again (its retry key),
    overriding any exchange a retried message arrived through."""
    return {
        "exchange": DOMAIN_COMMANDS,
        "routing_key": retry_key(queue_name),
        "declare": [DOMAIN_COMMANDS],
    }


def service_queues(service: str, consumes: Sequence[str], commands: Sequence[str]) -> list[Queue]:
    tasks = tasks_queue_name(service)
    queues = [Queue(tasks, exchange=DOMAIN_COMMANDS, routing_key=tasks, durable=True)]
    if consumes:
        events = events_queue_name(service)
        queues.append(
            Queue(
                events,
                bindings=[
                    *(binding(DOMAIN_EVENTS, routing_key=event) for event in consumes),
                    binding(DOMAIN_COMMANDS, routing_key=retry_key(events)),
                ],
                durable=True,
            )
        )
    queues += [command_queue(f"{service}.{verb}") for verb in commands]
    return queues


def broker_user(app: Celery) -> str | None:
    """The user this process's broker connection authenticates as (None: a broker without users,
    the embedded profile's filesystem transport)."""
    return _user_of(app.conf.broker_url or "")


@lru_cache(maxsize=8)
def _user_of(url: str) -> str | None:
    if not url or url.startswith("filesystem"):
        return None
    return Connection(url).userid


def make_celery_app(settings_module: str) -> Celery:
    """The service's Celery app, configured from its Django settings (``CELERY_*`` and
    ``MESSAGING``). Call it from the project's ``celery.py``."""
    global _app
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.conf import settings

    from service_kit.conf import data_dir

    service = settings.SERVICE_NAME
    messaging = settings.MESSAGING
    app = Celery(service)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    filesystem = settings.CELERY_BROKER_URL.startswith("filesystem")
    app.conf.update(
        task_queues=service_queues(service, messaging["CONSUMES"], messaging["COMMANDS"]),
        task_default_queue=tasks_queue_name(service),
        task_default_exchange=DOMAIN_COMMANDS.name,
        task_default_exchange_type=DOMAIN_COMMANDS.type,
        task_default_routing_key=tasks_queue_name(service),
        task_create_missing_queues=False,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=messaging.get("SOFT_TIME_LIMIT", 240),
        task_time_limit=messaging.get("TIME_LIMIT", 300),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=messaging["PUBLISH_TIMEOUT"],
        broker_heartbeat=0 if filesystem else 30,
        # A message file written whole before a worker can see it (see .transport).
        **({"broker_transport": TRANSPORT} if filesystem else {}),
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_enable_remote_control=not filesystem,
        beat_schedule={
            "outbox-sweep": {
                "task": "service_kit.outbox_sweep",
                "schedule": timedelta(seconds=messaging["OUTBOX_SWEEP_INTERVAL"]),
                "options": {"queue": tasks_queue_name(service), "expires": 60},
            },
            "retention-purge": {
                "task": "service_kit.retention_purge",
                "schedule": timedelta(hours=1),
                "options": {"queue": tasks_queue_name(service), "expires": 600},
            },
        },
        beat_schedule_filename=str(data_dir() / f"celerybeat-{service}"),
    )
    app.autodiscover_tasks(["service_kit.messaging"], related_name="tasks")
    app.autodiscover_tasks(related_name="handlers")
    _app = app
    return app


def get_celery_app() -> Celery:
    """The app of this process (the service's, once its celery module is imported)."""
    if _app is not None:
        return _app
    from celery import current_app

    app: Celery = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    return app
