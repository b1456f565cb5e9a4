"""System checks: the gateway refuses to start with routes or budgets it cannot honour."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register

from .limits import parse_rate
from .routes import default_routes


@register("gateway")
def check_gateway(app_configs=None, **kwargs):
    errors = []
    upstreams = getattr(settings, "UPSTREAMS", {})
    for name in sorted({route.upstream for route in default_routes() if not route.local}):
        url = upstreams.get(name)
        if not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            errors.append(
                Error(
                    f"upstream {name!r} has no http(s) URL ({name.upper()}_SERVICE_URL): {url!r}",
                    id="gateway.E001",
                )
            )
    for scope, rate in getattr(settings, "GATEWAY_THROTTLES", {}).items():
        try:
            parse_rate(scope, rate)
        except ValueError as exc:
            errors.append(Error(str(exc), hint="GATEWAY_THROTTLES", id="gateway.E002"))
    if int(getattr(settings, "GATEWAY_MAX_BODY_BYTES", 0)) <= 0:
        errors.append(Error("GATEWAY_MAX_BODY_BYTES must be positive", id="gateway.E003"))
    for name, timeouts in getattr(settings, "GATEWAY_TIMEOUTS", {}).items():
        if min(timeouts.get("connect", 1), timeouts.get("read", 1)) <= 0:
            errors.append(Error(f"timeouts of {name!r} must be positive", id="gateway.E004"))
    if int(getattr(settings, "GATEWAY_POOL_MAXSIZE", 1)) < 1:
        errors.append(Error("GATEWAY_POOL_MAXSIZE must be at least 1", id="gateway.E005"))
    for network in getattr(settings, "GATEWAY_INTERNAL_NETWORKS", []):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            errors.append(Error(str(exc), hint="GATEWAY_INTERNAL_NETWORKS", id="gateway.E006"))
    return errors
