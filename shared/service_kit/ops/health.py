"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve requests now).

- ``/healthz`` asks nothing outside the process: a database or broker outage must never make
  Kubernetes restart pods (the liveness probe), only take them out of rotation.
- ``/readyz`` runs the *required* checks (``READINESS_CHECKS``: the database and the cache by
  default); any failure is a 503 naming it in ``failed``. The *degrading* checks
  (``READINESS_DEGRADED_CHECKS``: the broker, for a service with a worker) are run and reported,
  but a failure only turns the status to ``"degraded"`` and names it in ``degraded``: the outbox
  keeps what the service publishes until the broker is back, so the service still serves. A
  service that cannot work without the broker lists ``"broker"`` in ``READINESS_CHECKS``.

``/readyz`` also reports the circuit breakers to other services that are not closed (their state
is shared by every process through the cache): ``"status": "degraded"`` with ``degraded`` naming
the upstreams and ``upstreams`` their breakers. That stays a 200: the service still answers (the
calls that need the upstream fail fast), and taking it out of rotation would turn one service's
outage into a wider one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from service_kit.api.errors import error_response


def check_database() -> None:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")


def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def check_broker() -> None:
    from service_kit.messaging.app import get_celery_app

    app = get_celery_app()
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def open_breakers() -> dict[str, dict[str, str]]:
    """The breakers (one per upstream, shared through the cache) that are open or half-open."""
    from service_kit.http.breaker import CLOSED, breaker_for

    config = settings.HTTP_CLIENT
    found: dict[str, dict[str, str]] = {}
    for name in getattr(settings, "UPSTREAMS", {}):
        if name == settings.SERVICE_NAME:
            continue
        breaker = breaker_for(
            name,
            failures=config["BREAKER_FAILURES"],
            reset_timeout=config["BREAKER_RESET_TIMEOUT"],
        )
        state = breaker.state
        if state != CLOSED:
            found[name] = {"breaker": state}
    return found


def _get_only(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def wrapper(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return error_response(
                405,
                "method_not_allowed",
                f'Method "{request.method}" not allowed.',
                Allow="GET, HEAD",
            )
        return view(request)

    return wrapper


@_get_only
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME})


def readiness_checks() -> tuple[list[str], list[str]]:
    """The required checks and the degrading ones (module docstring)."""
    required = list(getattr(settings, "READINESS_CHECKS", None) or ["database", "cache"])
    degrading = getattr(settings, "READINESS_DEGRADED_CHECKS", None)
    if degrading is None:
        messaging = getattr(settings, "MESSAGING", None) or {}
        degrading = ["broker"] if messaging.get("WORKER") else []
    return required, [name for name in degrading if name not in required]


def run_checks(names: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each check's outcome (``ok`` and its time, or the error) and the names that failed."""
    results: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for name in names:
        started = time.perf_counter()
        try:
            CHECKS[name]()
        except Exception as exc:  # noqa: BLE001 - any failure is reported by name
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            failed.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    return results, failed


def readiness() -> dict[str, Any]:
    """This process's readiness document; ``failed`` empty means it can serve now."""
    required, degrading = readiness_checks()
    results, failed = run_checks(required)
    soft_results, soft_failed = run_checks(degrading)
    # The breakers' state is in the cache: not asked for when the cache itself is down.
    upstreams = open_breakers() if "cache" not in failed else {}
    degraded = soft_failed + sorted(upstreams)
    return {
        "status": "unavailable" if failed else "degraded" if degraded else "ok",
        "service": settings.SERVICE_NAME,
        "checks": {**results, **soft_results},
        "failed": failed,
        "degraded": degraded,
        "upstreams": upstreams,
    }


@_get_only
def readyz(request: HttpRequest) -> HttpResponse:
    body = readiness()
    return JsonResponse(body, status=503 if body["failed"] else 200)
