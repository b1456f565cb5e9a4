"""Calls to one upstream: a keep-alive pool, timeouts, safe retries and the shared breaker.

Each upstream has its own pool (see :mod:`edge.http1`: keep-alive, ``maxsize`` idle connections,
more opened and dropped under bursts rather than making a thread wait). A request is sent once,
and again (at most ``GATEWAY_RETRIES`` times) only when that cannot run it twice:

* the connection could not be opened (refused, unreachable), or broke while the request was being
  written: the upstream never had a whole request, any method retries;
* the connection broke after the request was sent (reset, closed before answering): only
  idempotent methods retry, and requests carrying an ``Idempotency-Key`` (a POST so marked is
  answered once by the service, a second delivery replays its first answer);
* timeouts are never retried: the upstream may still be working on it, and the caller has waited.

A body streamed from the client is retried only if none of it has been read yet.

The breaker (the kit's, shared by every process through the cache) is asked before each request
without serialising them: ``allow()`` reads a local snapshot, and only failures write. Failures are
calls that got no answer and answers 502/503/504; any other status, 500 included, is the service's
answer and passes through (one broken endpoint must not shed a whole service).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from service_kit import tracing
from service_kit.http import CircuitBreaker, CircuitOpen

from . import http1
from .metrics import UPSTREAM_ERRORS

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: The header (as the edge names it) that makes a POST safe to send twice (the kit's idempotency).
IDEMPOTENCY_KEY = "Idempotency-Key"
#: Answers that mean the upstream is not serving, for the breaker (they still pass through).
FAILURE_STATUSES = frozenset({502, 503, 504})
#: Bytes per read and write when streaming bodies.
BLOCK = 64 * 1024


class UpstreamFailure(Exception):
    """No (usable) answer from the upstream: the gateway answers 503 or 504 itself."""

    def __init__(self, upstream: str, kind: str, retry_after: float | None = None):
        super().__init__(f"{upstream}: {kind}")
        self.upstream = upstream
        self.kind = kind  # connect, connect_timeout, read_timeout, reset, circuit_open
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return 504 if self.kind.endswith("timeout") else 503

    @property
    def code(self) -> str:
        return "upstream_timeout" if self.status == 504 else "upstream_unavailable"

    @property
    def message(self) -> str:
        if self.status == 504:
            return "A service this request depends on did not answer in time."
        return "A service this request depends on is unavailable."


class ClientBodyError(Exception):
    """The client's body could not be read (it ended early or the client went away).

    Not an ``OSError`` or an :class:`edge.http1.UpstreamError`: it is not the upstream's fault
    (the breaker does not count it). Should it happen during a half-open trial, the kit's trial
    lock is left to expire (its ``trial_timeout``)."""


class ClientBody:
    """The client's body, read as it is sent on: exactly ``length`` bytes (a chunked one has been
    read whole first, see edge.app)."""

    __slots__ = ("remaining", "started", "stream")

    def __init__(self, stream, length: int):
        self.stream = stream
        self.remaining = length
        self.started = False

    def read(self, amt: int | None = -1) -> bytes:
        self.started = True
        if self.remaining <= 0:
            return b""
        size = min(amt if amt and amt > 0 else BLOCK, self.remaining)
        try:
            data = self.stream.read(size)
        except Exception as exc:
            raise ClientBodyError("the request body could not be read") from exc
        if not data:
            raise ClientBodyError("the request body ended before its Content-Length")
        self.remaining -= len(data)
        return data


def read_body(stream, length: int) -> bytes:
    """Exactly ``length`` bytes of the client's body (small bodies are sent in one write)."""
    try:
        data = stream.read(length)
        if len(data) == length:
            return data
        parts, received = [data], len(data)
        while received < length:
            chunk = stream.read(length - received)
            if not chunk:
                raise ClientBodyError("the request body ended before its Content-Length")
            parts.append(chunk)
            received += len(chunk)
    except ClientBodyError:
        raise
    except Exception as exc:
        raise ClientBodyError("the request body could not be read") from exc
    return b"".join(parts)


class Upstream:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        maxsize: int,
        retries: int,
        breaker: CircuitBreaker,
    ):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream {name!r}: only http:// URLs are proxied to, not {url!r}")
        self.name = name
        self.url = url
        self.host = parts.netloc  # the Host header: the upstream's own name
        self.base_path = parts.path.rstrip("/")
        self.retries = retries
        self.breaker = breaker
        self.pool = http1.Pool(
            parts.hostname,
            parts.port or 80,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            maxsize=maxsize,
        )

    def send(
        self,
        method: str,
        target: str,
        headers: dict,
        body,
        *,
        length: int | None = None,
    ) -> http1.Response:
        """The upstream's response (head read, body not yet), or :class:`UpstreamFailure`.

        ``body`` is None, bytes or a :class:`ClientBody` of ``length`` bytes; the caller reads
        the response and releases its connection."""
        breaker = self.breaker
        try:
            trial = breaker.allow()
        except CircuitOpen as exc:
            UPSTREAM_ERRORS.labels(self.name, "circuit_open").inc()
            raise UpstreamFailure(self.name, "circuit_open", exc.retry_after) from None
        # A half-open trial is one probe: retrying it would hold the other processes back longer.
        retries = 0 if trial else self.retries
        attempt = 0
        while True:
            error: http1.UpstreamError
            try:
                response = self._attempt(method, target, headers, body, length, attempt)
            except http1.ConnectTimeout as exc:  # before ConnectError: it subclasses it
                kind, again, error = "connect_timeout", False, exc
            except http1.ConnectError as exc:
                kind, again, error = "connect", _replayable(body), exc
            except http1.SendError as exc:
                kind, again, error = "reset", _replayable(body), exc
            except http1.ReadTimeout as exc:
                kind, again, error = "read_timeout", False, exc
            except http1.ResponseError as exc:
                repeatable = method in IDEMPOTENT_METHODS or IDEMPOTENCY_KEY in headers
                kind, again, error = "reset", repeatable and _replayable(body), exc
            else:
                if response.status in FAILURE_STATUSES:
                    breaker.record_failure(trial=trial)
                else:
                    breaker.record_success(trial=trial)
                return response
            if again and attempt < retries:
                attempt += 1
                logger.info(
                    "gateway.upstream_retry",
                    extra={"upstream": self.name, "kind": kind, "attempt": attempt},
                )
                continue
            breaker.record_failure(trial=trial)
            UPSTREAM_ERRORS.labels(self.name, kind).inc()
            logger.warning(
                "gateway.upstream_failed",
                extra={"upstream": self.name, "kind": kind, "method": method, "error": str(error)},
            )
            raise UpstreamFailure(self.name, kind) from error

    def _attempt(self, method, target, headers, body, length, attempt) -> http1.Response:
        if not tracing.ON:
            return http1.exchange(
                self.pool, method, target, headers, body, host=self.host, length=length
            )
        # One CLIENT span per attempt (retries visible), its traceparent sent with that attempt.
        attributes = {
            "http.request.method": method,
            "server.address": self.host,
            "url.path": target.split("?", 1)[0],
            "platform.upstream": self.name,
            "http.request.resend_count": attempt,
        }
        with tracing.client_span(f"{method} {self.name}", attributes, headers) as span:
            response = http1.exchange(
                self.pool, method, target, headers, body, host=self.host, length=length
            )
            span.set_attribute("http.response.status_code", response.status)
            return response


def _replayable(body) -> bool:
    return body is None or isinstance(body, bytes) or not body.started
