"""The gateway's WSGI entry point: the edge's lean path in front of Django.

Paths of a service (``/api/v1/…``, ``/admin/<service>/…``, ``/.well-known/jwks.json``) are routed
by :class:`edge.app.EdgeApplication` without Django's request handling; everything else
(``/healthz``, ``/readyz``, ``/status``, ``/metrics``, ``/api/docs/``, ``/admin/gateway/``) is
Django's.
"""

from service_kit.entrypoints import wsgi_application

django_application = wsgi_application("gateway.settings")

# After Django's setup: the edge reads settings, and its metrics must be made once
# PROMETHEUS_MULTIPROC_DIR is set (service_settings sets it).
from edge.app import EdgeApplication  # noqa: E402

application = EdgeApplication(django_application)
