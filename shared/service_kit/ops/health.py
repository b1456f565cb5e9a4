"""``/healthz`` (the process answers) and ``/readyz`` (its database, cache and broker answer).

``/readyz`` also reports the circuit breakers to other services that are not closed (their state
is shared by every process through the cache): ``"status": "degraded"`` with ``degraded`` naming
the upstreams and ``upstreams`` their breakers. That stays a 200: the service still answers (the
calls that need the upstream fail fast), and taking it out of rotation would turn one service's
outage into a wider one.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse

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


def open_breakers() -> dict[str, dict]:
    """The breakers (one per upstream, shared through the cache) that are open or half-open."""
    from service_kit.http.breaker import CLOSED, breaker_for

    config = settings.HTTP_CLIENT
    found = {}
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


def _get_only(view):
    def wrapper(request):
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
def healthz(request):
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME})


@_get_only
def readyz(request):
    names = getattr(settings, "READINESS_CHECKS", None) or (
        ["database", "cache", "broker"] if settings.MESSAGING["WORKER"] else ["database", "cache"]
    )
    results, failed = {}, []
    for name in names:
        started = time.perf_counter()
        try:
            CHECKS[name]()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            failed.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    # The breakers' state is in the cache: not asked for when the cache itself is down.
    upstreams = open_breakers() if "cache" not in failed else {}
    body = {
        "status": "unavailable" if failed else "degraded" if upstreams else "ok",
        "service": settings.SERVICE_NAME,
        "checks": results,
        "failed": failed,
        "degraded": sorted(upstreams),
        "upstreams": upstreams,
    }
    return JsonResponse(body, status=503 if failed else 200)
