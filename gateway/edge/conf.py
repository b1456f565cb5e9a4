"""The gateway's own settings, read from the environment (``settings.py`` merges them in).

=====================================  =========================================================
``GATEWAY_MAX_BODY_BYTES``             largest request body passed on (413 above), 10 MiB
``GATEWAY_THROTTLES``                  budgets per scope, ``user=600/min,anon=120/min,…``;
                                       a scope left out keeps its default, ``none`` turns it off
``GATEWAY_CONNECT_TIMEOUT``            seconds to connect to an upstream (1.0)
``GATEWAY_READ_TIMEOUT``               seconds to wait for an upstream's answer (30.0)
``GATEWAY_<NAME>_CONNECT_TIMEOUT``     the same for one upstream (``GATEWAY_PAYMENT_READ_…``)
``GATEWAY_<NAME>_READ_TIMEOUT``
``GATEWAY_RETRIES``                    extra attempts after a connection error (1; see proxy)
``GATEWAY_POOL_MAXSIZE``               keep-alive connections kept per upstream (32)
``GATEWAY_TRUSTED_PROXIES``            proxies in front of the gateway whose ``X-Forwarded-*``
                                       are believed (0: the peer address is the client)
``GATEWAY_INTERNAL_NETWORKS``          the cluster's own networks, which alone get ``/metrics``
                                       and the details of ``/readyz`` and ``/status`` (loopback,
                                       private ranges)
=====================================  =========================================================

Upstream URLs are the kit's ``UPSTREAMS`` (``<NAME>_SERVICE_URL``); the breaker thresholds are the
kit's ``HTTP_CLIENT`` ones (``BREAKER_FAILURES``, ``BREAKER_RESET_TIMEOUT``), so the gateway and
the services' own clients agree on when an upstream is down.
"""

from __future__ import annotations

from typing import Any

import environ

from service_kit.conf import SERVICE_PORTS, logging_settings

#: Who gets /metrics and the details of /readyz and /status: loopback and the private ranges,
#: where the kubelet, Prometheus and the mesh's sidecars call from (edge.views).
DEFAULT_INTERNAL_NETWORKS = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
]

#: Requests per window and scope (see edge.limits for what each scope counts).
DEFAULT_THROTTLES = {
    "user": "600/min",  # a verified token's user (or service identity)
    "anon": "120/min",  # a client address, on public routes
    "auth": "10/min",  # a client address, on sign-in, registration and password reset
    "admin": "300/min",  # a client address, on the admins' pages (not their static files)
}


def gateway_settings() -> dict[str, Any]:
    env = environ.Env()
    # The kit's logging, with a faster formatter of the same ECS lines (edge.logs).
    log_config = logging_settings("gateway")
    log_config["formatters"]["ecs"] = {"()": "edge.logs.EcsFormatter"}
    connect = env.float("GATEWAY_CONNECT_TIMEOUT", 1.0)
    read = env.float("GATEWAY_READ_TIMEOUT", 30.0)
    return {
        "GATEWAY_MAX_BODY_BYTES": env.int("GATEWAY_MAX_BODY_BYTES", 10 * 1024 * 1024),
        "GATEWAY_THROTTLES": {**DEFAULT_THROTTLES, **env.dict("GATEWAY_THROTTLES", default={})},
        "GATEWAY_TIMEOUTS": {
            name: {
                "connect": env.float(f"GATEWAY_{name.upper()}_CONNECT_TIMEOUT", connect),
                "read": env.float(f"GATEWAY_{name.upper()}_READ_TIMEOUT", read),
            }
            for name in SERVICE_PORTS
            if name != "gateway"
        },
        "GATEWAY_RETRIES": env.int("GATEWAY_RETRIES", 1),
        "GATEWAY_POOL_MAXSIZE": env.int("GATEWAY_POOL_MAXSIZE", 32),
        "GATEWAY_TRUSTED_PROXIES": env.int("GATEWAY_TRUSTED_PROXIES", 0),
        "GATEWAY_INTERNAL_NETWORKS": env.list(
            "GATEWAY_INTERNAL_NETWORKS", default=DEFAULT_INTERNAL_NETWORKS
        ),
        "LOGGING": log_config,
    }
