"""The few lines each project's manage.py, wsgi.py and asgi.py would otherwise repeat."""

from __future__ import annotations

import os
import sys


def manage(settings_module: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def wsgi_application(settings_module: str):
    """Django's WSGI application, given chunked request bodies whole (service_kit.ops.bodies)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    from service_kit.ops.bodies import WholeBodies

    application = get_wsgi_application()
    return WholeBodies(application, limit=settings.MAX_REQUEST_BODY_SIZE)


def asgi_application(settings_module: str):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.asgi import get_asgi_application

    return get_asgi_application()
