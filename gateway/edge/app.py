"""The lean WSGI path: ``application = EdgeApplication(django_application)``.

A request whose path a route claims (see :mod:`edge.routes`) is handled here, in this order,
without Django's request and response objects, middleware or DRF:

1. the path and body size are checked (dot segments → 400, ``Content-Length`` over
   ``GATEWAY_MAX_BODY_BYTES`` → 413 before anything is read);
2. a protected route needs a valid access token (the kit's ``verify_token()``, revocations included)
   → 401 ``not_authenticated``/``token_not_valid`` with ``WWW-Authenticate``, upstream not called;
3. the request is counted against its throttle budgets → 429 ``throttled`` with ``Retry-After``
   (2 and 3 share one Redis round trip, see :mod:`edge.limits`);
4. a chunked body (no ``Content-Length``) is read whole, up to the limit (413 past it, 400
   ``parse_error`` when empty or malformed, see :mod:`service_kit.ops.bodies`), to go on with its
   length; the request goes to the upstream through its pool and breaker (see :mod:`edge.proxy`)
   → 503 ``upstream_unavailable`` / 504 ``upstream_timeout`` when no answer comes;
5. the upstream's status, headers (hop-by-hop ones dropped) and body are passed back, the body
   streamed when it is large or of unknown length.

Every request gets one ECS access log line (``service_kit.access``, the kit middleware's fields)
and its route's metrics; every answer carries ``X-Request-ID``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from http import HTTPStatus
from time import perf_counter
from urllib.parse import quote

from django.conf import settings

from service_kit import tracing
from service_kit.api import error_body
from service_kit.auth import TokenInvalid, verify_token
from service_kit.context import clean_request_id, request_id_var, user_id_var
from service_kit.http import BREAKER_STATE, breaker_for
from service_kit.ops import BodyRefused, client_address, is_chunked, is_length, read_whole

from .cors import Cors
from .http1 import ReadTimeout, UpstreamError
from .limits import Limits
from .metrics import REFUSED, THROTTLED, UPSTREAM_ERRORS, RouteMetrics
from .proxy import BLOCK, ClientBody, ClientBodyError, Upstream, UpstreamFailure
from .proxy import read_body as read_client_body
from .routes import ADMIN, STATIC, Route, Router, default_routes

#: Bodies refused unread up to this size are read and dropped (see ``handle``).
DISCARD_LIMIT = 64 * 1024

logger = logging.getLogger(__name__)
access_log = logging.getLogger("service_kit.access")

#: Bodies up to this size are read whole and sent in one write (both ways).
BUFFER_LIMIT = 256 * 1024

#: Request headers (as WSGI environ keys) never passed on: hop-by-hop ones, those the gateway
#: sets itself, and ``Proxy`` (httpoxy). ``Proxy-*`` are dropped by prefix.
DROPPED_REQUEST_KEYS = frozenset(
    {
        "HTTP_CONNECTION",
        "HTTP_KEEP_ALIVE",
        "HTTP_TE",
        "HTTP_TRAILER",
        "HTTP_TRAILERS",
        "HTTP_TRANSFER_ENCODING",
        "HTTP_UPGRADE",
        "HTTP_HOST",
        "HTTP_EXPECT",
        "HTTP_CONTENT_LENGTH",
        "HTTP_CONTENT_TYPE",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_X_REQUEST_ID",
        # A client's trace context is not trusted: the gateway starts the trace (linked to it).
        "HTTP_TRACEPARENT",
        "HTTP_TRACESTATE",
    }
)
#: Response headers (lower case) never passed back.
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "x-request-id",
    }
)
PATH_SAFE = "/:@!$&'()*+,;=-._~"
QUERY_SAFE = "/:@!$&'()*+,;=-._~?%"
WWW_AUTHENTICATE = ("WWW-Authenticate", 'Bearer realm="api"')

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_HEADER_NAMES: dict[str, str] = {}


def _status_line(status: int, reason: str = "") -> str:
    return _STATUS_LINES.get(status) or f"{status} {reason or 'Unknown'}"


def _header_name(key: str) -> str:
    """``HTTP_X_CUSTOM_THING`` → ``X-Custom-Thing`` (memoised: a handful of names recur)."""
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").title()
        if len(_HEADER_NAMES) < 1000:
            _HEADER_NAMES[key] = name
    return name


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def _claimed_identity(token: str) -> str | None:
    """The user (or service identity) a token names, before anything about it is checked.

    Only used to pick the throttle counter charged in the same trip; a refused token's charge is
    taken back (see edge.limits)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        identity = claims.get("user_id") or claims.get("client_id")
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    return str(identity)[:64] if identity else None


def _upstream_target(upstream: Upstream, route: Route, path: str, query: str) -> str:
    # PATH_INFO is decoded (latin-1 per PEP 3333): percent-encode it again.
    target = upstream.base_path + quote(route.upstream_path(path).encode("latin-1"), safe=PATH_SAFE)
    if not query:
        return target
    if not query.isascii():
        query = quote(query.encode("latin-1"), safe=QUERY_SAFE)
    return f"{target}?{query}"


class Exchange:
    """One request's facts, for its answer, its log line and its metrics."""

    __slots__ = ("cors", "method", "path", "request_id", "route", "span", "started", "user_id")

    def __init__(self, route: Route, method: str, path: str, request_id: str, started: float):
        self.route = route
        self.method = method
        self.path = path
        self.request_id = request_id
        self.started = started
        self.user_id: str | None = None
        self.cors: list[tuple[str, str]] | None = None  # None: CORS is not configured
        self.span = None  # the request's SERVER span when tracing is on


class EdgeApplication:
    def __init__(self, django_application, *, routes: list[Route] | None = None):
        self.django = django_application
        routes = default_routes() if routes is None else routes
        self.router = Router(routes)
        self.max_body = int(settings.GATEWAY_MAX_BODY_BYTES)
        self.trusted_proxies = int(settings.GATEWAY_TRUSTED_PROXIES)
        self.limits = Limits(settings.GATEWAY_THROTTLES)
        self.user_budget = self.limits.budget("user")
        self.anon_budget = self.limits.budget("anon")
        self.auth_budget = self.limits.budget("auth")
        self.admin_budget = self.limits.budget("admin")
        http = settings.HTTP_CLIENT
        self.upstreams: dict[str, Upstream] = {}
        for name in sorted({route.upstream for route in routes if not route.local}):
            timeouts = settings.GATEWAY_TIMEOUTS.get(name, {})
            self.upstreams[name] = Upstream(
                name,
                settings.UPSTREAMS[name],
                connect_timeout=timeouts.get("connect", 1.0),
                read_timeout=timeouts.get("read", 30.0),
                maxsize=int(settings.GATEWAY_POOL_MAXSIZE),
                retries=int(settings.GATEWAY_RETRIES),
                breaker=breaker_for(
                    name,
                    failures=http["BREAKER_FAILURES"],
                    reset_timeout=http["BREAKER_RESET_TIMEOUT"],
                ),
            )
            # Every upstream shows on /metrics from the start (the kit sets it on changes).
            BREAKER_STATE.labels(name).set(0)
        self.metrics = {route.name: RouteMetrics(route.name) for route in routes}
        self.cors = Cors()

    # -- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        route = self.router.match(path)
        if route is None:
            # Django's own server span must not take a client's trace context as its parent.
            environ.pop("HTTP_TRACEPARENT", None)
            environ.pop("HTTP_TRACESTATE", None)
            return self.django(environ, start_response)
        exchange = Exchange(
            route,
            environ.get("REQUEST_METHOD", "GET"),
            path,
            clean_request_id(environ.get("HTTP_X_REQUEST_ID")),
            perf_counter(),
        )
        if self.cors.enabled:
            exchange.cors = self.cors.headers(environ, exchange.method)
            exchange.cors.append(("Vary", "Origin"))
        rid_token = request_id_var.set(exchange.request_id)
        uid_token = user_id_var.set(None)
        span_token = None
        if tracing.ON:
            exchange.span, span_token = tracing.start_server_span(
                f"{exchange.method} {route.name}",
                environ,
                {
                    "http.request.method": exchange.method,
                    "url.path": path,
                    "http.route": route.name,
                    "http.request.id": exchange.request_id,
                },
            )
        result = None
        try:
            result = self.handle(exchange, environ, start_response)
            return result
        except Exception:
            logger.exception("gateway.error", extra={"route": route.name})
            result = self.error(
                exchange,
                start_response,
                500,
                "server_error",
                "An unexpected error occurred; it has been logged.",
            )
            return result
        finally:
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)
            if span_token is not None:
                # A streamed body's span ends with it (StreamedBody.close).
                streamed = isinstance(result, StreamedBody)
                tracing.end_server_span(exchange.span, span_token, end=not streamed)

    def handle(self, exchange: Exchange, environ, start_response):
        # 1. The path and the body's size, before anything reads it.
        refusal = self.screen(exchange, environ, start_response)
        if refusal is not None:
            return refusal
        length_header = environ.get("CONTENT_LENGTH")
        length = int(length_header) if length_header else 0  # digits: screened above
        chunked = not length_header and is_chunked(environ)

        # 2 and 3. Who is calling, and whether their budget allows it (one trip for both).
        address = self.client_address(environ)
        if exchange.route.is_public(exchange.method, exchange.path):
            refusal = self.charge_public(exchange, start_response, address)
        else:
            refusal = self.authenticate(exchange, environ, start_response, address)
        if refusal is not None:
            self.discard_small_body(environ, length)
            return refusal
        if exchange.route.local:
            return self.django(environ, start_response)

        # 4 and 5. The upstream, and its answer.
        return self.forward(exchange, environ, start_response, address, length, chunked)

    # -- steps ------------------------------------------------------------------------------
    def screen(self, exchange: Exchange, environ, start_response):
        """The answer to a request refused or redirected on its path and size alone, or None."""
        route, method, path = exchange.route, exchange.method, exchange.path
        if "/." in path and _has_dot_segment(path):
            return self.error(
                exchange, start_response, 400, "bad_request", "The request path is not valid."
            )
        if exchange.cors is not None and Cors.is_preflight(environ, method):
            return self.answer(exchange, start_response, 200, [])  # as django-cors-headers does
        if route.kind == ADMIN and not path.startswith(route.prefix):
            # /admin/orders → /admin/orders/: relative links in the admin need the slash.
            query = environ.get("QUERY_STRING", "")
            location = route.prefix + (f"?{query}" if query else "")
            return self.answer(exchange, start_response, 301, [("Location", location)])
        length_header = environ.get("CONTENT_LENGTH")
        if length_header and not is_length(length_header):
            return self.error(
                exchange, start_response, 400, "bad_request", "Content-Length is not valid."
            )
        if length_header and int(length_header) > self.max_body:
            return self.too_large(exchange, start_response)
        return None

    @staticmethod
    def discard_small_body(environ, length: int) -> None:
        # Read the small body nobody will use: a connection whose request body is still in
        # flight cannot carry the client's next request (kept-alive clients, the admin's forms).
        # A larger one is the server's to discard or close on.
        if 0 < length <= DISCARD_LIMIT:
            with contextlib.suppress(ClientBodyError):
                read_client_body(environ.get("wsgi.input"), length)

    def forward(self, exchange: Exchange, environ, start_response, address, length, chunked):
        route = exchange.route
        upstream = self.upstreams[route.upstream]
        headers = self.upstream_headers(environ, exchange, address)
        try:
            body, length = self.request_body(environ, length, chunked)
            target = _upstream_target(
                upstream, route, exchange.path, environ.get("QUERY_STRING", "")
            )
            response = upstream.send(exchange.method, target, headers, body, length=length)
        except UpstreamFailure as failure:
            return self.upstream_failed(exchange, start_response, failure)
        except BodyRefused as refused:
            return self.error(
                exchange,
                start_response,
                refused.status,
                refused.code,
                refused.message,
                refused.details,
            )
        except ClientBodyError as exc:
            return self.error(exchange, start_response, 400, "bad_request", str(exc))
        return self.relay(exchange, upstream, response, start_response)

    def request_body(self, environ, length: int, chunked: bool):
        """The body to send on (bytes, a streamed ``ClientBody`` or None) and its length."""
        stream = environ.get("wsgi.input")
        if chunked:
            # Read whole and sent on with its length: a service (granian) reads a chunked
            # body as empty, and only a whole body can be checked (service_kit.ops.bodies).
            stream, length = read_whole(stream, self.max_body)
        if length > BUFFER_LIMIT:
            return ClientBody(stream, length), length
        if length:
            return read_client_body(stream, length), length
        if environ.get("CONTENT_LENGTH"):
            return b"", length
        return None, length

    def client_address(self, environ) -> str:
        return client_address(environ, self.trusted_proxies)

    def charge_public(self, exchange: Exchange, start_response, address: str):
        route = exchange.route
        if route.kind == STATIC:
            return None
        budget = self.admin_budget if route.kind == ADMIN else self.anon_budget
        charges = [(budget, address)] if budget is not None else []
        if self.auth_budget is not None and route.is_sensitive(exchange.method, exchange.path):
            charges.append((self.auth_budget, address))
        if not charges:
            return None
        return self.throttled(exchange, start_response, self.limits.charge(charges).over())

    def authenticate(self, exchange: Exchange, environ, start_response, address: str):
        header = environ.get("HTTP_AUTHORIZATION")
        if not header:
            return self.unauthorized(
                exchange,
                start_response,
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return self.unauthorized(
                exchange,
                start_response,
                "token_not_valid",
                "Authorization header must be 'Bearer <token>'.",
            )
        trip = None

        def fetch(keys: list[str]) -> dict:
            # verify_token() asks for the revocation keys; the throttle counter rides along.
            nonlocal trip
            identity = _claimed_identity(token)
            if identity is not None and self.user_budget is not None:
                charges = [(self.user_budget, identity)]
            elif self.anon_budget is not None:
                charges = [(self.anon_budget, address)]
            else:
                charges = []
            trip = self.limits.charge(charges, keys)
            return trip.shared

        try:
            claims = verify_token(token, fetch=fetch)
        except TokenInvalid as exc:
            if trip is not None:
                self.limits.refund(trip)
            return self.unauthorized(
                exchange, start_response, "token_not_valid", str(exc), {"reason": exc.reason}
            )
        user_id = claims.get("user_id") or claims.get("client_id")
        if user_id:
            exchange.user_id = str(user_id)
            user_id_var.set(exchange.user_id)
        return self.throttled(exchange, start_response, trip.over() if trip else None)

    def throttled(self, exchange: Exchange, start_response, over):
        if over is None:
            return None
        budget, retry_after = over
        THROTTLED.labels(budget.scope).inc()
        return self.error(
            exchange,
            start_response,
            429,
            "throttled",
            f"Request was throttled. Expected available in {retry_after} seconds.",
            {"retry_after": retry_after, "scope": budget.scope},
            [("Retry-After", str(retry_after))],
        )

    def upstream_headers(self, environ, exchange: Exchange, address: str) -> dict[str, str]:
        dropped = DROPPED_REQUEST_KEYS
        connection = environ.get("HTTP_CONNECTION")
        if connection:
            named = {
                "HTTP_" + token.strip().upper().replace("-", "_")
                for token in connection.split(",")
                if token.strip()
            }
            dropped = dropped | named
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_") and key not in dropped and not key.startswith("HTTP_PROXY"):
                headers[_header_name(key)] = value
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            headers["Content-Type"] = content_type
        peer = environ.get("REMOTE_ADDR") or ""
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        headers["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        proto = host = None
        if self.trusted_proxies:
            proto = environ.get("HTTP_X_FORWARDED_PROTO")
            host = environ.get("HTTP_X_FORWARDED_HOST")
        headers["X-Forwarded-Proto"] = (
            proto.split(",")[0].strip() if proto else environ.get("wsgi.url_scheme", "http")
        )
        headers["X-Forwarded-Host"] = (
            host.split(",")[0].strip()
            if host
            else environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        )
        if exchange.route.forwarded_prefix:
            headers["X-Forwarded-Prefix"] = exchange.route.forwarded_prefix
        headers["X-Request-ID"] = exchange.request_id
        return headers

    def relay(self, exchange: Exchange, upstream: Upstream, response, start_response):
        status = response.status
        dropped = DROPPED_RESPONSE_HEADERS
        connection = response.header("Connection")
        if connection:
            dropped = dropped | {token.strip().lower() for token in connection.split(",")}
        headers = [
            (name, value)
            for name, value in response.headers
            if name.lower() not in dropped and not name.lower().startswith("proxy-")
        ]
        headers.append(("X-Request-ID", exchange.request_id))
        if exchange.cors is not None:
            headers = self.with_cors(headers, exchange.cors)
        if response.mode == "length" and response.remaining <= BUFFER_LIMIT:
            try:
                data = response.read()
            except UpstreamError as exc:
                response.close()
                kind = "read_timeout" if isinstance(exc, ReadTimeout) else "reset"
                UPSTREAM_ERRORS.labels(upstream.name, kind).inc()
                upstream.breaker.record_failure()
                return self.upstream_failed(
                    exchange, start_response, UpstreamFailure(upstream.name, kind)
                )
            finally:
                response.release()
            start_response(_status_line(status, response.reason), headers)
            self.finish(exchange, status)
            return [data] if data else []
        start_response(_status_line(status, response.reason), headers)
        return StreamedBody(self, exchange, upstream, response, status)

    # -- answers made here ------------------------------------------------------------------
    def unauthorized(self, exchange, start_response, code: str, message: str, details=None):
        return self.error(exchange, start_response, 401, code, message, details, [WWW_AUTHENTICATE])

    def too_large(self, exchange, start_response):
        return self.error(
            exchange,
            start_response,
            413,
            "payload_too_large",
            "The request body is too large.",
            {"max_bytes": self.max_body},
        )

    def upstream_failed(self, exchange, start_response, failure: UpstreamFailure):
        details: dict[str, object] = {"upstream": failure.upstream, "reason": failure.kind}
        extra = []
        if failure.retry_after is not None:
            retry_after = max(1, int(failure.retry_after + 0.999))
            details["retry_after"] = round(failure.retry_after, 3)
            extra.append(("Retry-After", str(retry_after)))
        return self.error(
            exchange, start_response, failure.status, failure.code, failure.message, details, extra
        )

    def error(
        self, exchange, start_response, status, code, message, details=None, extra_headers=()
    ):
        if status < 500 or code == "server_error":
            REFUSED.labels(exchange.route.name, code).inc()
        body = json.dumps(error_body(code, message, details)).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Request-ID", exchange.request_id),
            *extra_headers,
            *(exchange.cors or ()),
        ]
        start_response(_status_line(status), headers)
        self.finish(exchange, status)
        return [] if exchange.method == "HEAD" else [body]

    def answer(self, exchange, start_response, status: int, headers: list):
        start_response(
            _status_line(status),
            [
                *headers,
                ("Content-Length", "0"),
                ("X-Request-ID", exchange.request_id),
                *(exchange.cors or ()),
            ],
        )
        self.finish(exchange, status)
        return []

    @staticmethod
    def with_cors(headers: list, cors: list) -> list:
        """The upstream's headers with the gateway's CORS ones instead of its own, and ``Origin``
        added to its ``Vary``."""
        merged, vary = [], "Origin"
        for name, value in headers:
            lower = name.lower()
            if lower == "vary":
                vary = value if "origin" in value.lower() else f"{value}, Origin"
            elif not lower.startswith("access-control-"):
                merged.append((name, value))
        merged.extend(header for header in cors if header[0] != "Vary")
        merged.append(("Vary", vary))
        return merged

    def finish(self, exchange: Exchange, status: int) -> None:
        """The request's log line and metrics (for streamed bodies: when the body has gone)."""
        elapsed = perf_counter() - exchange.started
        self.metrics[exchange.route.name].observe(status, elapsed, exchange.span)
        if exchange.span is not None:
            tracing.set_status(exchange.span, status)
        access_log.info(
            "http.request",
            extra={
                "http.request.method": exchange.method,
                "url.path": exchange.path,
                "http.response.status_code": status,
                "event.duration": int(elapsed * 1e9),
                "request_id": exchange.request_id,
                "user_id": exchange.user_id,
                "gateway.route": exchange.route.name,
            },
        )


class StreamedBody:
    """A large (or unknown-length) upstream body, passed on block by block as it arrives."""

    __slots__ = ("app", "done", "exchange", "response", "status", "upstream")

    def __init__(self, app: EdgeApplication, exchange, upstream: Upstream, response, status: int):
        self.app = app
        self.exchange = exchange
        self.upstream = upstream
        self.response = response
        self.status = status
        self.done = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            data = self.response.read1(BLOCK)
        except Exception:
            # Too late for an error answer: the status has gone. Failing the iteration makes the
            # server cut the connection, so the client sees a broken body, not a short one.
            UPSTREAM_ERRORS.labels(self.upstream.name, "body_aborted").inc()
            logger.warning(
                "gateway.upstream_body_aborted",
                extra={"upstream": self.upstream.name},
                exc_info=True,
            )
            raise
        if not data:
            self.done = True
            raise StopIteration
        return data

    def close(self) -> None:
        response = self.response
        # Kept alive when the body went whole; else (the client left, or the upstream failed
        # mid-body) dropped rather than read to its unknown end.
        response.release()
        self.app.finish(self.exchange, self.status)
        if self.exchange.span is not None:
            self.exchange.span.end()
