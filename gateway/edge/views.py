"""The gateway's own pages about its upstreams: the state of them all, and every API's docs.

- ``/status``: the operators' page (not a probe: the gateway's readiness is the kit's ``/readyz``,
  its own database and cache, since it can route whatever state an upstream is in, each
  upstream's breaker answering for that one). The gateway's own checks and every upstream's
  ``/readyz``, called in parallel with short timeouts, in one JSON document; 503 naming whatever
  is not ready, ``degraded`` naming the upstreams that serve degraded. Computed by one thread
  at a time and kept ``READYZ_CACHE_SECONDS``, so a flood of calls costs one round of upstream
  calls per interval. Only the cluster's own network (below) gets the document; anyone else gets
  its ``status`` alone, no exception text, no upstream names.
- ``/metrics``: the cluster's own network only (403 ``permission_denied`` for anyone else).
- ``/api/schema/<service>/``: that service's OpenAPI document (its ``/api/schema/?format=json``),
  kept for ``API_SCHEMA_CACHE_SECONDS``; an older copy is served while the service does not answer.
- ``/api/schema/``: the platform's one document, merged from the services' (``edge.openapi``),
  with an ``ETag``.
- ``/api/docs/``: Swagger UI over the merged document, every service's own one in its "Select a
  definition" list.

The cluster's own network is ``GATEWAY_INTERNAL_NETWORKS`` (loopback and the private ranges), and
a caller's address is the one the ``GATEWAY_TRUSTED_PROXIES`` in front say called them (the kit's
``client_address``): an ``X-Forwarded-For`` the client wrote itself comes before the address the
ingress appends, and is never read.

The upstreams are ``settings.UPSTREAMS`` (``<NAME>_SERVICE_URL``); ``READYZ_UPSTREAMS`` and
``API_DOCS_SERVICES`` name which of them these pages cover.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, wraps
from typing import Any

import urllib3
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from urllib3.exceptions import HTTPError, ReadTimeoutError

from service_kit.api import error_response
from service_kit.context import REQUEST_ID_HEADER, current_request_id
from service_kit.ops import client_address, metrics_view, readiness

from .openapi import docs_services, merged

#: Readiness of upstreams and schema downloads: rare, small, never retried (the next probe is).
_pool = urllib3.PoolManager(num_pools=16, maxsize=2, retries=False)


def _get_only(view):
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return error_response(
                405,
                "method_not_allowed",
                f'Method "{request.method}" not allowed.',
                Allow="GET, HEAD",
            )
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@lru_cache(maxsize=4)
def internal_networks(entries: tuple[str, ...]) -> tuple[Any, ...]:
    """``GATEWAY_INTERNAL_NETWORKS`` parsed (once per value of the setting)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_internal(request) -> bool:
    """The caller is on the cluster's own network (module docstring)."""
    address = client_address(request.META, int(settings.GATEWAY_TRUSTED_PROXIES))
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    networks = internal_networks(tuple(settings.GATEWAY_INTERNAL_NETWORKS))
    return any(ip in network for network in networks)


def _internal_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_internal(request):
            return error_response(
                403, "permission_denied", "This page is served to the cluster's own network only."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _headers() -> dict[str, str]:
    headers = {"Accept": "application/json"}
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def _problem(exc: Exception, read_timeout: float) -> str:
    if isinstance(exc, ReadTimeoutError):
        return f"no answer within {read_timeout:g} s"
    reason = getattr(exc, "reason", None) or exc
    return f"unreachable: {type(reason).__name__}: {reason}"[:300]


# -- /status -------------------------------------------------------------------------------------


def readyz_upstreams() -> list[str]:
    names = getattr(settings, "READYZ_UPSTREAMS", None)
    if names is None:
        names = [name for name in settings.UPSTREAMS if name != settings.SERVICE_NAME]
    return list(names)


def upstream_readiness(name: str) -> dict[str, Any]:
    """One upstream's ``/readyz``: whether it answered, its status and checks, how long it took."""
    connect, read = settings.READYZ_TIMEOUT
    url = settings.UPSTREAMS[name].rstrip("/") + "/readyz"
    started = time.perf_counter()
    try:
        raw = _pool.request(
            "GET",
            url,
            headers=_headers(),
            timeout=urllib3.Timeout(connect=connect, read=read),
            redirect=False,
        )
    except HTTPError as exc:
        ms = round((time.perf_counter() - started) * 1000, 2)
        return {"ok": False, "answered": False, "ms": ms, "error": _problem(exc, read)}
    ms = round((time.perf_counter() - started) * 1000, 2)
    result: dict[str, Any] = {"ok": raw.status == 200, "answered": True, "status": raw.status}
    try:
        body = json.loads(raw.data)
    except ValueError:
        body = None
    if isinstance(body, dict) and "checks" in body:
        result["checks"] = body["checks"]
        for key in ("failed", "degraded"):
            if body.get(key):
                result[key] = body[key]
    else:
        result["ok"] = False
        result["error"] = "the answer is not a readiness document"
    result["ms"] = ms
    return result


class Snapshot:
    """The latest readiness document of this process, shared by its threads: while one thread
    asks the upstreams, the others wait for its answer rather than ask again."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest: tuple[float, dict[str, Any]] | None = None  # (monotonic time taken, body)

    def get(self, max_age: float, take) -> dict[str, Any]:
        latest = self.latest
        if latest is None or time.monotonic() - latest[0] >= max_age:
            with self.lock:
                latest = self.latest  # another thread may have taken it meanwhile
                if latest is None or time.monotonic() - latest[0] >= max_age:
                    latest = self.latest = (time.monotonic(), take())
        return latest[1]


_readiness = Snapshot()
_status = Snapshot()


@_get_only
def readyz(request):
    """The gateway's readiness probe: it can route (its own database and cache), whatever state
    the upstreams are in. Only the cluster's own network gets the details (module docstring)."""
    body = _readiness.get(float(settings.READYZ_CACHE_SECONDS), readiness)
    return _answer(request, body)


def _answer(request, body: dict[str, Any]) -> JsonResponse:
    status = 503 if body["failed"] else 200
    if not is_internal(request):
        body = {"status": body["status"], "service": body["service"]}
    return JsonResponse(body, status=status)


@_get_only
def platform_status(request):
    """``ok`` when the gateway's own checks pass and every upstream answers its ``/readyz`` 200.

    ``failed`` names the gateway's failed checks and the upstreams that are not ready,
    ``degraded`` the upstreams that serve degraded (their broker, a breaker); only the
    cluster's own network sees it (module docstring)."""
    body = _status.get(float(settings.READYZ_CACHE_SECONDS), platform_readiness)
    return _answer(request, body)


@_internal_only
def metrics(request):
    return metrics_view(request)


def platform_readiness() -> dict[str, Any]:
    names = readyz_upstreams()
    with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="readyz") as pool:
        futures = {name: pool.submit(upstream_readiness, name) for name in names}
        own = readiness()  # meanwhile, in this thread (its database connection)
        upstreams = {name: future.result() for name, future in futures.items()}
    failed = own["failed"] + [name for name, upstream in upstreams.items() if not upstream["ok"]]
    degraded = [name for name, upstream in upstreams.items() if upstream.get("degraded")]
    body = {
        "status": "unavailable" if failed else "degraded" if degraded else "ok",
        "service": settings.SERVICE_NAME,
        "checks": own["checks"],
        "upstreams": upstreams,
        "failed": failed,
        "degraded": degraded,
    }
    return body


# -- /api/schema/<service>/ and /api/docs/ -------------------------------------------------------


_schemas: dict[str, tuple[float, bytes]] = {}
_schemas_lock = threading.Lock()


def _fetch_schema(service: str) -> bytes | HttpResponse:
    """The upstream's OpenAPI document as JSON bytes, or the error response to give instead."""
    connect, read = settings.API_SCHEMA_TIMEOUT
    url = settings.UPSTREAMS[service].rstrip("/") + "/api/schema/?format=json"
    details = {"upstream": service}
    try:
        raw = _pool.request(
            "GET",
            url,
            headers=_headers(),
            timeout=urllib3.Timeout(connect=connect, read=read),
            redirect=False,
        )
    except ReadTimeoutError:
        return error_response(
            504,
            "upstream_timeout",
            "A service this request depends on did not answer in time.",
            details,
        )
    except HTTPError:
        return error_response(
            503,
            "upstream_unavailable",
            "A service this request depends on is unavailable.",
            details,
        )
    if raw.status != 200:
        return error_response(
            502,
            "bad_gateway",
            "The service did not give its API schema.",
            {**details, "status": raw.status},
        )
    return raw.data


def service_document(service: str) -> bytes | HttpResponse:
    """``service``'s OpenAPI document, fetched from it and kept ``API_SCHEMA_CACHE_SECONDS`` in
    this process; the last copy while the service does not answer; else the error to give."""
    now = time.monotonic()
    cached = _schemas.get(service)
    if cached and now - cached[0] < settings.API_SCHEMA_CACHE_SECONDS:
        return cached[1]
    fetched = _fetch_schema(service)
    if isinstance(fetched, HttpResponse):
        # the service does not answer: the last copy will do for docs
        return fetched if cached is None else cached[1]
    with _schemas_lock:
        _schemas[service] = (now, fetched)
    return fetched


def _schema_response(content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type="application/json")
    response["Cache-Control"] = f"max-age={int(settings.API_SCHEMA_CACHE_SECONDS)}"
    return response


@_get_only
def service_schema(request, service: str):
    """``service``'s own OpenAPI document."""
    if service not in docs_services() or service not in settings.UPSTREAMS:
        return error_response(404, "not_found", "No such service.", {"services": docs_services()})
    content = service_document(service)
    if isinstance(content, HttpResponse):
        return content
    return _schema_response(content)


@_get_only
def platform_schema(request):
    """The platform's one OpenAPI document, merged from the services' (edge.openapi). A service
    that does not answer (and was never fetched) is left out, named in ``x-missing-services``."""
    documents: dict[str, bytes] = {}
    missing = []
    names = [name for name in docs_services() if name in settings.UPSTREAMS]
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        for name, content in zip(names, pool.map(service_document, names), strict=True):
            if isinstance(content, HttpResponse):
                missing.append(name)
            else:
                documents[name] = content
    if not documents:
        return error_response(
            503,
            "upstream_unavailable",
            "No service gave its API schema.",
            {"upstreams": missing},
        )
    content, etag = merged.get(documents, missing)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = _schema_response(content)
    response["ETag"] = etag
    return response


def swagger_ui_settings(request) -> str:
    """Swagger UI's options (a JavaScript object, as drf-spectacular's page spreads them): the
    standalone layout, whose top bar selects among every service's schema."""
    urls = [{"name": "platform", "url": reverse("schema")}]
    urls += [
        {"name": name, "url": reverse("service-schema", args=[name])} for name in docs_services()
    ]
    options = {
        "urls": urls,
        "urls.primaryName": request.GET.get("service") or (urls[0]["name"] if urls else ""),
        "layout": "StandaloneLayout",
        "deepLinking": True,
        "persistAuthorization": True,  # one token for every service's "Try it out"
    }
    # JSON is a JavaScript object literal; "<" escaped so that nothing closes the script tag.
    text = json.dumps(options, indent=2).replace("<", "\\u003c")
    presets = '"presets": [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],'
    return text.replace("{", "{\n  " + presets, 1)


class PlatformDocsView(SpectacularSwaggerView):
    """drf-spectacular's Swagger UI page (assets served locally), over every service's schema."""

    title = "Platform API"

    @extend_schema(exclude=True)  # a page about the API, not part of it (as its parent says)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data["settings"] = swagger_ui_settings(request)
        return response


docs = PlatformDocsView.as_view()
