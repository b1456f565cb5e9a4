"""Service-to-service REST calls: pooled, timed out, retried when safe, behind a circuit breaker.

    response = ServiceClient("product").get("/api/v1/products/", params={"q": "lamp"})
    if response.status == 200:
        products = response.json()["results"]

Upstream answers, 4xx and 5xx included, come back as :class:`UpstreamResponse`; only a call that
got no answer raises: :class:`~service_kit.api.errors.UpstreamUnavailable` (refused, reset, breaker
open) or :class:`~service_kit.api.errors.UpstreamTimeout` (no answer within the read timeout). Both
render as the platform's error body if left to propagate out of a view.

A client is cheap to make: the connection pool and the breakers belong to the process, so
``ServiceClient("product")`` inside a view or task reuses both.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from prometheus_client import Counter
from urllib3.exceptions import HTTPError, ReadTimeoutError

from service_kit import tracing
from service_kit.api.errors import UpstreamTimeout, UpstreamUnavailable
from service_kit.context import REQUEST_ID_HEADER, current_request_id
from service_kit.exemplars import Histogram

from .breaker import CircuitOpen, breaker_for

logger = logging.getLogger(__name__)

#: Methods a retry cannot turn into a second effect. POST and PATCH are never retried.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Answers that mean "not now" from a proxy or an overloaded upstream, worth one more try.
RETRY_STATUSES = frozenset({502, 503, 504})
#: First pause between attempts; doubles each time. Short: the caller is waiting.
RETRY_BACKOFF = 0.05
#: Idle keep-alive connections kept per upstream host (more are opened, then dropped, under load).
POOL_MAXSIZE = 10

Timeout = float | tuple[float, float]

REQUESTS = Counter(
    "http_client_requests_total",
    "Calls to upstream services, by upstream and outcome "
    "(ok, server_error, timeout, unavailable, rejected: breaker open)",
    ["upstream", "outcome"],
)
DURATION = Histogram(
    "http_client_request_duration_seconds",
    "Time a call to an upstream took, retries included",
    ["upstream"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@dataclass(frozen=True)
class UpstreamResponse:
    """An upstream's answer, read whole (the connection is back in the pool)."""

    upstream: str
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class ServiceClient:
    """Calls one upstream of ``settings.UPSTREAMS``, with ``settings.HTTP_CLIENT``'s defaults.

    ``token`` or ``token_provider`` (called per request, so a refreshed token is picked up) give
    the ``Authorization: Bearer`` service token; the current request id is always forwarded.
    """

    def __init__(
        self,
        upstream: str,
        *,
        base_url: str | None = None,
        token: str | None = None,
        token_provider: Callable[[], str | None] | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        retries: int | None = None,
        breaker_failures: int | None = None,
        breaker_reset_timeout: float | None = None,
    ):
        config = settings.HTTP_CLIENT
        if base_url is None:
            try:
                base_url = settings.UPSTREAMS[upstream]
            except KeyError:
                raise ImproperlyConfigured(
                    f"no URL for upstream {upstream!r} in UPSTREAMS"
                ) from None
        self.upstream = upstream
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.token_provider = token_provider
        self.connect_timeout = _pick(connect_timeout, config["CONNECT_TIMEOUT"])
        self.read_timeout = _pick(read_timeout, config["READ_TIMEOUT"])
        self.retries = _pick(retries, config["RETRIES"])
        self.breaker = breaker_for(
            upstream,
            failures=_pick(breaker_failures, config["BREAKER_FAILURES"]),
            reset_timeout=_pick(breaker_reset_timeout, config["BREAKER_RESET_TIMEOUT"]),
        )

    def get(self, path: str, **kwargs: Any) -> UpstreamResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> UpstreamResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> UpstreamResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> UpstreamResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> UpstreamResponse:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> UpstreamResponse:
        """One call. ``timeout`` is seconds for both connecting and reading, or a
        ``(connect, read)`` pair; ``json`` is sent as the body (Decimals, UUIDs and dates too)."""
        method = method.upper()
        url = self.base_url + "/" + path.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        body = None if json is None else jsonlib.dumps(json, cls=DjangoJSONEncoder).encode()
        sent = self._headers(headers, body)
        response = self._call(method, url, body, sent, timeout)
        own_token = not any(name.lower() == "authorization" for name in headers or {})
        if response.status == 401 and own_token and self._token_refused(sent):
            # Refused before anything was done (authentication comes first): sent once more,
            # with a new service token.
            response = self._call(method, url, body, self._headers(headers, body), timeout)
        return response

    def _token_refused(self, sent: Mapping[str, str]) -> bool:
        """The service token ``sent`` was refused: forget it (True: try again with a new one)."""
        forget = getattr(self.token_provider, "forget", None)
        token = sent.get("Authorization", "").removeprefix("Bearer ")
        return bool(forget and token and forget(token))

    def _call(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: Timeout | None,
    ) -> UpstreamResponse:
        # Everything that could fail on our side is done before a half-open trial is taken.
        started = time.perf_counter()
        try:
            trial = self.breaker.allow()
        except CircuitOpen as exc:
            REQUESTS.labels(self.upstream, "rejected").inc()
            raise UpstreamUnavailable(
                details={
                    "upstream": self.upstream,
                    "reason": "circuit_open",
                    "retry_after": round(exc.retry_after, 3),
                }
            ) from exc
        # A half-open trial is one probe: retrying it would hold the other processes back longer.
        retries = self.retries if method in IDEMPOTENT_METHODS and not trial else 0
        try:
            response = self._send(method, url, body, headers, timeout, retries)
        except UpstreamTimeout:
            self._finish(started, "timeout", failed=True, trial=trial)
            raise
        except UpstreamUnavailable:
            self._finish(started, "unavailable", failed=True, trial=trial)
            raise
        failed = response.status >= 500
        self._finish(started, "server_error" if failed else "ok", failed=failed, trial=trial)
        return response

    # -- internals --------------------------------------------------------------------------
    def _headers(self, extra: Mapping[str, str] | None, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        token = self.token_provider() if self.token_provider else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # The trace's context; urllib3's instrumentation puts its CLIENT span's in its place,
        # unless the trace is not sampled (then it is suppressed: see service_kit.tracing).
        tracing.inject_into(headers)
        headers.update(extra or {})  # the caller's own headers win
        return headers

    def _timeout(self, timeout: Timeout | None) -> urllib3.Timeout:
        if timeout is None:
            return urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
        if isinstance(timeout, tuple):
            return urllib3.Timeout(connect=timeout[0], read=timeout[1])
        return urllib3.Timeout(connect=timeout, read=timeout)

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: Timeout | None,
        retries: int,
    ) -> UpstreamResponse:
        # The error's details reach the API's caller if a view lets it through: the upstream's
        # name, never its internal URL (that goes to the log).
        details = {"upstream": self.upstream}
        log = {"upstream": self.upstream, "method": method, "url": url}
        attempt = 0
        while True:
            try:
                raw = _pool().request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    timeout=self._timeout(timeout),
                    retries=False,  # ours, below: urllib3's would retry a refused POST
                    redirect=False,  # an API redirect is an answer for the caller to see
                )
            except ReadTimeoutError as exc:
                # Not retried: the upstream may still be working on it, and the caller's own
                # deadline is already spent.
                logger.warning("http.upstream_timeout", extra=log)
                raise UpstreamTimeout(details=details) from exc
            except HTTPError as exc:
                # Refused, connect timeout, reset or closed before answering: nothing to return.
                if attempt >= retries:
                    logger.warning("http.upstream_unavailable", extra={**log, "error": str(exc)})
                    raise UpstreamUnavailable(details=details) from exc
                reason: object = str(exc)
            else:
                if raw.status not in RETRY_STATUSES or attempt >= retries:
                    return UpstreamResponse(self.upstream, raw.status, raw.headers, raw.data)
                reason = raw.status
            attempt += 1
            logger.info("http.upstream_retry", extra={**log, "attempt": attempt, "reason": reason})
            time.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))

    def _finish(self, started: float, outcome: str, *, failed: bool, trial: bool) -> None:
        if failed:
            self.breaker.record_failure(trial=trial)
        else:
            self.breaker.record_success(trial=trial)
        REQUESTS.labels(self.upstream, outcome).inc()
        DURATION.labels(self.upstream).observe(time.perf_counter() - started)


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


_pool_lock = threading.Lock()
_pool_owner: tuple[int, urllib3.PoolManager] | None = None


def _pool() -> urllib3.PoolManager:
    """The process's connection pool (made again after a fork: sockets must not be shared)."""
    global _pool_owner
    owner = _pool_owner
    if owner is None or owner[0] != os.getpid():
        with _pool_lock:
            owner = _pool_owner
            if owner is None or owner[0] != os.getpid():
                owner = (os.getpid(), urllib3.PoolManager(num_pools=32, maxsize=POOL_MAXSIZE))
                _pool_owner = owner
    return owner[1]
