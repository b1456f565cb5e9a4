"""The gateway's edge: the lean WSGI path that routes, authenticates, throttles and proxies.

``gateway/wsgi.py`` wraps Django in :class:`edge.app.EdgeApplication`: a request whose path
belongs to a service (``/api/v1/products/…``, ``/admin/orders/…``) is handled here without
Django's request/response objects, middleware or DRF; everything else (``/healthz``,
``/readyz``, ``/status``, ``/metrics``, ``/api/docs/``, ``/admin/gateway/``) goes to Django.
"""
