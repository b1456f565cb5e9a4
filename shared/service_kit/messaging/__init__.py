"""Messaging: the Celery app factory, the envelope, the outbox, idempotent consumers and dead
letters (see ARCHITECTURE.md, Messaging).

Names that touch models load on first use, so a project's ``celery.py`` can import the factory
before Django's apps are ready.
"""

from importlib import import_module

from .app import DOMAIN_EVENTS, get_celery_app, make_celery_app

_LAZY = {
    "Envelope": ".envelope",
    "InvalidMessage": ".envelope",
    "registry": ".schemas",
    "publish_event": ".outbox",
    "send_command": ".outbox",
    "relay": ".outbox",
    "sweep": ".outbox",
    "event_handler": ".consumer",
    "command_handler": ".consumer",
    "replay": ".consumer",
}

__all__ = ["DOMAIN_EVENTS", "get_celery_app", "make_celery_app", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
