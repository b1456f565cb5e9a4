"""Messaging: the Celery app factory, the envelope, the outbox, idempotent consumers and dead
letters (docs/messages.md).

Names that touch models load on first use, so a project's ``celery.py`` can import the factory
before Django's apps are ready. Importing the package connects the kit's Celery signal hooks
(request ids, the sender's broker user, task metrics, the relay's reset and flush).
"""

from importlib import import_module
from typing import Any

from . import signals  # noqa: F401 - connects the hooks
from .app import DOMAIN_COMMANDS, DOMAIN_EVENTS, get_celery_app, make_celery_app, tasks_queue_name

_LAZY = {
    "Envelope": ".envelope",
    "InvalidMessage": ".envelope",
    "UnknownVersion": ".envelope",
    "registry": ".schemas",
    "publish_event": ".outbox",
    "send_command": ".outbox",
    "relay": ".outbox",
    "sweep": ".outbox",
    "event_handler": ".consumer",
    "command_handler": ".consumer",
    "replay": ".consumer",
}

__all__ = [
    "DOMAIN_COMMANDS",
    "DOMAIN_EVENTS",
    "get_celery_app",
    "make_celery_app",
    "tasks_queue_name",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
