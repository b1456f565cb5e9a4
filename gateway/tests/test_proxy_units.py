"""The edge's parts in process: routes, budgets, the one Redis trip, the HTTP/1.1 client, the log
formatter, and the WSGI application against stand-in upstreams (threads of this process).

The real-process tests (test_proxy.py) show the same behaviour end to end; these pin the details.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
import time
import uuid
from email.message import Message

import pytest
from django.core.cache import cache
from ecs_logging import StdlibFormatter
from edge import http1
from edge.app import EdgeApplication, _claimed_identity
from edge.cors import Cors
from edge.limits import Budget, Limits, Trip, parse_rate
from edge.logs import EcsFormatter
from edge.proxy import ClientBody, ClientBodyError
from edge.routes import ADMIN, API, PUBLIC, STATIC, Route, Router, default_routes

from platform_tools.testing.backing import skip_unless
from platform_tools.testing.contract import assert_error
from platform_tools.testing.processes import wait_for
from platform_tools.testing.tokens import TokenMint
from service_kit.auth import (
    KEYSET_VERSION_KEY,
    revoke_user,
    revoked_jti_key,
    revoked_user_key,
)
from service_kit.ops import ContextFilter

from .doubles import Answer, RecordingUpstream, SilentUpstream, json_reply

BIG = {"user": "100000/min", "anon": "100000/min", "auth": "100000/min", "admin": "100000/min"}


# -- routes --------------------------------------------------------------------------------------
ROUTER = Router(default_routes())


@pytest.mark.parametrize(
    ("path", "name", "upstream", "upstream_path"),
    [
        ("/api/v1/auth/token/", "auth", "auth", "/api/v1/auth/token/"),
        ("/.well-known/jwks.json", "jwks", "auth", "/.well-known/jwks.json"),
        ("/api/v1/users/me/addresses/", "users", "user", "/api/v1/users/me/addresses/"),
        ("/api/v1/products/desk-lamp/", "products", "product", "/api/v1/products/desk-lamp/"),
        ("/api/v1/products", "products", "product", "/api/v1/products"),
        ("/api/v1/categories/", "categories", "product", "/api/v1/categories/"),
        ("/api/v1/inventory/SKU-1/", "inventory", "inventory", "/api/v1/inventory/SKU-1/"),
        ("/api/v1/orders/1/cancel/", "orders", "order", "/api/v1/orders/1/cancel/"),
        ("/api/v1/payments/", "payments", "payment", "/api/v1/payments/"),
        ("/admin/auth/", "admin-auth", "auth", "/admin/"),
        ("/admin/users/login/", "admin-users", "user", "/admin/login/"),
        ("/admin/products/catalogue/x/", "admin-products", "product", "/admin/catalogue/x/"),
        ("/admin/inventory/static/b.css", "admin-inventory-static", "inventory", "/static/b.css"),
        ("/admin/orders/", "admin-orders", "order", "/admin/"),
        ("/admin/payments/static/x.js", "admin-payments-static", "payment", "/static/x.js"),
    ],
)  # fmt: skip
def test_every_path_prefix_has_its_upstream(path, name, upstream, upstream_path):
    route = ROUTER.match(path)
    assert (route.name, route.upstream, route.upstream_path(path)) == (
        name,
        upstream,
        upstream_path,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/docs/",
        "/api/schema/product/",
        "/api/v1/",
        "/api/v1/unknown/",
        "/admin/",
        "/admin/productsx/",
        "/api/v1/productsx/",
    ],
)
def test_the_gateways_own_paths_are_left_to_django(path):
    assert ROUTER.match(path) is None


@pytest.mark.parametrize("path", ["/admin/gateway/", "/admin/gateway/login/"])
def test_the_gateways_own_admin_is_checked_by_the_edge_and_served_by_django(path):
    route = ROUTER.match(path)
    assert (route.name, route.kind, route.local) == ("admin-gateway", ADMIN, True)
    assert route.is_sensitive("POST", "/admin/gateway/login/")


@pytest.mark.parametrize(
    ("method", "path", "public"),
    [
        ("POST", "/api/v1/auth/register/", True),
        ("POST", "/api/v1/auth/token/", True),
        ("POST", "/api/v1/auth/token/refresh/", True),
        ("POST", "/api/v1/auth/password/reset/", True),
        ("POST", "/api/v1/auth/password/reset/confirm/", True),
        ("POST", "/api/v1/auth/service-token/", True),
        ("GET", "/.well-known/jwks.json", True),
        ("GET", "/api/v1/products/", True),
        ("HEAD", "/api/v1/products/lamp/", True),
        ("GET", "/api/v1/categories/", True),
        ("OPTIONS", "/api/v1/orders/", True),
        ("GET", "/admin/orders/", True),
        ("POST", "/admin/orders/login/", True),
        ("GET", "/admin/orders/static/a.css", True),
        ("GET", "/api/v1/auth/me/", False),
        ("POST", "/api/v1/auth/logout/", False),
        ("POST", "/api/v1/auth/password/change/", False),
        ("GET", "/api/v1/auth/token/../me/", False),
        ("POST", "/api/v1/products/", False),
        ("PATCH", "/api/v1/products/lamp/", False),
        ("DELETE", "/api/v1/categories/1/", False),
        ("GET", "/api/v1/users/me/", False),
        ("GET", "/api/v1/inventory/SKU-1/", False),
        ("GET", "/api/v1/orders/", False),
        ("POST", "/api/v1/payments/", False),
    ],
)
def test_who_may_call_without_a_token(method, path, public):
    assert ROUTER.match(path).is_public(method, path) is public


def test_sign_in_registration_and_password_reset_are_sensitive():
    sensitive = [
        ("POST", "/api/v1/auth/token/"),
        ("POST", "/api/v1/auth/register/"),
        ("POST", "/api/v1/auth/password/reset/"),
        ("POST", "/api/v1/auth/password/reset/confirm/"),
        ("POST", "/admin/products/login/"),
    ]
    for method, path in sensitive:
        assert ROUTER.match(path).is_sensitive(method, path), path
    for method, path in [
        ("POST", "/api/v1/auth/token/refresh/"),
        ("GET", "/admin/products/login/"),
        ("GET", "/api/v1/products/"),
    ]:
        assert not ROUTER.match(path).is_sensitive(method, path), path
    kinds = {route.kind for route in default_routes()}
    assert kinds == {API, PUBLIC, ADMIN, STATIC}


# -- budgets -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "limit", "period"),
    [("600/min", 600, 60), ("10/m", 10, 60), ("5/hour", 5, 3600), ("3/hours", 3, 3600),
     ("100/s", 100, 1), ("10/30s", 10, 30), ("1000/day", 1000, 86400), (" 7 / 2min ", 7, 120)],
)  # fmt: skip
def test_rates(rate, limit, period):
    assert parse_rate("x", rate) == Budget("x", limit, period)


@pytest.mark.parametrize("rate", [None, "", "none", "off"])
def test_a_scope_can_be_turned_off(rate):
    assert parse_rate("x", rate) is None


@pytest.mark.parametrize("rate", ["600", "600/fortnight", "many/min", "-1/min"])
def test_a_bad_rate_is_refused(rate):
    with pytest.raises(ValueError, match="not like"):
        parse_rate("x", rate)


def test_the_first_budget_overspent_says_how_long_to_wait():
    user, anon = Budget("user", 2, 60), Budget("anon", 5, 3600)
    trip = Trip([(user, "k1"), (anon, "k2")], [3, 6], {}, now=60 * 1000 + 30.2)
    assert trip.over() == (user, 30)  # 60 - 30.2 s of the window, rounded up
    assert Trip([(user, "k1")], [2], {}, now=0.0).over() is None


# -- the one Redis trip --------------------------------------------------------------------------
@pytest.fixture
def limits():
    return Limits({"anon": "3/min", "user": "5/hour"})


def test_one_trip_counts_and_reads_what_the_kits_revocation_wrote(limits):
    skip_unless(limits.redis is not None, "needs Redis (the real profile)")
    user_id, jti = str(uuid.uuid4()), uuid.uuid4().hex
    cache.set(revoked_jti_key(jti), 1, timeout=60)  # stored raw by django-redis (an int)
    revoke_user(user_id)  # a float: stored pickled
    cache.set(KEYSET_VERSION_KEY, 1234.5, timeout=60)
    keys = [KEYSET_VERSION_KEY, revoked_jti_key(jti), revoked_user_key(user_id), "absent:key"]
    anon = limits.budget("anon")
    ident = f"198.51.100.{uuid.uuid4().int % 250}"

    calls = []
    original = limits.redis.evalsha
    limits.redis.evalsha = lambda *a: calls.append(a) or original(*a)
    trip = limits.charge([(anon, ident)], keys)
    assert len(calls) == 1  # one round trip for the counter and every key
    assert trip.shared == cache.get_many(keys)
    assert trip.shared[revoked_jti_key(jti)] == 1
    assert isinstance(trip.shared[revoked_user_key(user_id)], float)
    assert trip.counts == [1]
    counter = trip.charged[0][1]
    assert 0 < limits.redis.ttl(cache.make_key(counter)) <= 61

    assert [limits.charge([(anon, ident)]).counts for _ in range(3)] == [[2], [3], [4]]
    over = limits.charge([(anon, ident)])
    assert over.over()[0] == anon
    limits.refund(over)
    assert limits.charge([(anon, ident)]).counts == [5]


def test_a_flushed_script_is_loaded_again(limits):
    skip_unless(limits.redis is not None, "needs Redis (the real profile)")
    limits.redis.script_flush()
    trip = limits.charge([(limits.budget("user"), str(uuid.uuid4()))])
    assert trip.counts == [1]


def test_a_failing_cache_lets_requests_through_for_a_while(limits):
    from edge.limits import LIMITS_ERRORS

    before = LIMITS_ERRORS._value.get()
    broken = Limits({"anon": "1/min"})
    broken.redis = broken.cache = None  # every operation now fails
    budget = broken.budget("anon")
    assert broken.charge([(budget, "a")]).counts == []
    assert broken.charge([(budget, "a")]).over() is None
    assert LIMITS_ERRORS._value.get() == before + 1  # the second call did not try
    assert broken._skip_until > time.time()


def test_without_redis_the_cache_api_counts(settings):
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "t"},
    }
    local = Limits({"anon": "2/min"}, alias="local")
    assert local.redis is None
    from django.core.cache import caches

    caches["local"].set(revoked_jti_key("j"), 1)
    budget = local.budget("anon")
    first = local.charge([(budget, "a")], [revoked_jti_key("j"), "absent"])
    assert first.counts == [1] and first.shared == {revoked_jti_key("j"): 1}
    assert local.charge([(budget, "a")]).counts == [2]
    third = local.charge([(budget, "a")])
    assert third.over() is not None
    local.refund(third)
    assert local.charge([(budget, "a")]).counts == [3]


# -- the access log's formatter ------------------------------------------------------------------
class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def records():
    logger = logging.getLogger("service_kit.access")
    record = logger.makeRecord
    apm = {"elasticapm_labels.x": 1, "elasticapm_trace_id": "t", "elasticapm_service_name": "s"}
    made = [
        logger.makeRecord(
            "service_kit.access",
            logging.INFO,
            __file__,
            10,
            "http.request",
            (),
            None,
            extra={
                "http.request.method": "GET",
                "url.path": "/api/v1/products/x/",
                "http.response.status_code": 200,
                "event.duration": 12345,
                "request_id": "abc",
                "user_id": "u-1",
                "gateway.route": "products",
            },
        ),
        record("x", logging.WARNING, __file__, 3, "a %s b %d", ("s", 4), None),
        record("x", 40, "f", 3, "m", (), None, extra={"nested": {"a": {"b": 1}}, "n.c": [1]}),
        record("x", 20, "f", 3, "m", (), None, extra=apm),
        record("x", 20, "f", 3, "m", (), None, sinfo="Stack (most recent call last): here"),
        record("x", 20, "f", 3, {"not": "a string"}, (), None, extra={"obj": Opaque()}),
    ]  # fmt: skip
    try:
        raise ValueError("boom")
    except ValueError:
        made.append(
            logger.makeRecord("x", logging.ERROR, __file__, 5, "failed", (), sys.exc_info())
        )
    for record in made:
        ContextFilter("gateway").filter(record)
    return made


@pytest.mark.parametrize("index", range(7))
def test_the_fast_formatter_writes_what_ecs_logging_writes(index):
    record = records()[index]
    original = StdlibFormatter().format(record)
    assert EcsFormatter().format(record) == original


def test_the_fast_formatter_refuses_conflicting_fields_as_ecs_logging_does():
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "m", (), None, extra={"log": "flat"}
    )
    with pytest.raises(TypeError):
        StdlibFormatter().format(record)
    with pytest.raises(TypeError):
        EcsFormatter().format(record)
    excluded = EcsFormatter(exclude_fields=["process"])  # an option it leaves to the original
    assert "process" not in json.loads(excluded.format(records()[0]))


def test_the_gateway_logs_with_it(settings):
    assert settings.LOGGING["formatters"]["ecs"] == {"()": "edge.logs.EcsFormatter"}


# -- the HTTP/1.1 client -------------------------------------------------------------------------
class ScriptedUpstream:
    """A socket server answering each request with the next scripted bytes; it counts
    connections and can close after answering."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False):
        self.answers = list(answers)
        self.close_after = close_after
        self.connections = 0
        self.closed = 0  # connections it has closed
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn: socket.socket) -> None:
        try:
            self._talk(conn)
        finally:
            conn.close()
            self.closed += 1

    def _talk(self, conn: socket.socket) -> None:
        buffer = b""
        while self.answers:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(buffer) < length:
                buffer += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + buffer[:length])
            buffer = buffer[length:]
            conn.sendall(self.answers.pop(0))
            if self.close_after:
                return

    def close(self) -> None:
        self.listener.close()


def pool_for(port: int, read_timeout: float = 5.0) -> http1.Pool:
    return http1.Pool("127.0.0.1", port, connect_timeout=1, read_timeout=read_timeout, maxsize=4)


def get(pool, method="GET", body=None, headers=None):
    response = http1.exchange(pool, method, "/x", dict(headers or {}), body, host="up")
    data = response.read()
    response.release()
    return response, data


def test_the_client_reads_lengths_chunks_and_to_the_close_and_keeps_connections_alive():
    upstream = ScriptedUpstream(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",  # HEAD: no body follows
            b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
        ]
    )
    pool = pool_for(upstream.port)
    response, data = get(pool)
    assert (response.status, data) == (200, b"hello")
    assert [v for k, v in response.headers if k == "X-A"] == ["1", "2"]
    response, data = get(pool, "POST", b'{"a": 1}')
    assert (response.status, response.reason, data) == (201, "Created", b"hello world")
    response, data = get(pool, "DELETE")
    assert (response.status, data) == (204, b"")
    response, data = get(pool, "HEAD")
    assert (response.status, data, response.header("content-length")) == (200, b"", "3")
    assert upstream.connections == 1  # one kept-alive connection so far
    response, data = get(pool)
    assert data == b"until the end"
    assert len(pool.idle) == 0  # a body that ends with the connection ends the connection
    assert upstream.requests[1].startswith(b"POST /x HTTP/1.1\r\nHost: up\r\n")
    assert b"Content-Length: 8\r\n\r\n" in upstream.requests[1]
    upstream.close()


def test_the_client_streams_a_body_in_pieces_as_it_arrives():
    blocks = [b"a" * 70_000, b"b" * 10]
    chunked = b"".join(b"%x\r\n%b\r\n" % (len(b), b) for b in blocks) + b"0\r\n\r\n"
    upstream = ScriptedUpstream(
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked]
    )
    response = http1.exchange(pool_for(upstream.port), "GET", "/x", {}, None, host="up")
    pieces = []
    while piece := response.read1(65536):
        pieces.append(piece)
    assert b"".join(pieces) == b"".join(blocks) and len(pieces) >= 2
    response.release()


@pytest.mark.parametrize("length", ["²", "12abc"])
def test_an_upstream_length_that_is_not_ascii_digits_is_refused(length):
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n"
    odd = ScriptedUpstream([head.encode("latin-1")])  # a header's bytes, read as Latin-1
    with pytest.raises(http1.ResponseError, match="not a number"):
        http1.exchange(pool_for(odd.port), "GET", "/x", {}, None, host="up")
    odd.close()


def test_an_idle_connection_the_upstream_closed_is_not_used():
    upstream = ScriptedUpstream(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] * 2, close_after=True
    )
    pool = pool_for(upstream.port)
    get(pool)
    # the upstream closes it (as after its keep-alive timeout) while it sits idle in the pool
    wait_for(lambda: upstream.closed == 1, 5, interval=0.01, what="the upstream to close it")
    _, data = get(pool, "POST", b"{}")  # must not fail on the dead connection
    assert data == b"ok" and upstream.connections == 2


def test_client_errors_say_whether_the_request_got_through():
    silent = SilentUpstream()
    port = int(silent.url.rsplit(":", 1)[1])
    with pytest.raises(http1.ReadTimeout):
        http1.exchange(pool_for(port, read_timeout=0.2), "GET", "/x", {}, None, host="up")
    silent.close()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    with pytest.raises(http1.ConnectError):
        http1.exchange(pool_for(closed_port), "GET", "/x", {}, None, host="up")
    hang_up = ScriptedUpstream([b""], close_after=True)
    with pytest.raises(http1.ResponseError):
        http1.exchange(pool_for(hang_up.port), "GET", "/x", {}, None, host="up")
    garbage = ScriptedUpstream([b"SSH-2.0-OpenSSH\r\n\r\n"])
    with pytest.raises(http1.ResponseError, match="not an HTTP"):
        http1.exchange(pool_for(garbage.port), "GET", "/x", {}, None, host="up")


def test_a_header_value_cannot_end_the_head_early():
    head = http1.request_head("GET", "/", "up", {"X-Ok": "1", "X-Evil": "a\r\nX-Injected: 1"})
    assert head == b"GET / HTTP/1.1\r\nHost: up\r\nX-Ok: 1\r\n\r\n"


def test_the_clients_body_is_read_to_its_length():
    body = ClientBody(io.BytesIO(b"0123456789"), 4)
    assert body.read(3) == b"012" and body.read(3) == b"3" and body.read(3) == b""
    with pytest.raises(ClientBodyError, match="ended before"):
        short = ClientBody(io.BytesIO(b"01"), 4)
        short.read(), short.read()
    assert not issubclass(ClientBodyError, OSError)


# -- the WSGI application in process -------------------------------------------------------------
def django_stand_in(environ, start_response):
    start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
    return [b"django"]


@pytest.fixture
def edge_for(settings):
    """``edge_for(url)``: an EdgeApplication whose upstream (a name of its own, so a breaker of
    its own) is ``url``, with ``/api/v1/things/`` protected and ``/api/v1/open/`` public."""

    def make(url: str, **overrides) -> EdgeApplication:
        name = f"unit-{uuid.uuid4().hex[:8]}"
        settings.UPSTREAMS = {**settings.UPSTREAMS, name: url}
        settings.GATEWAY_THROTTLES = BIG
        settings.GATEWAY_TIMEOUTS = {name: {"connect": 0.5, "read": overrides.pop("read", 5.0)}}
        for key, value in overrides.items():
            setattr(settings, key, value)
        routes = [
            Route("things", "/api/v1/things/", name),
            Route("open", "/api/v1/open/", name, kind=PUBLIC),
        ]
        app = EdgeApplication(django_stand_in, routes=routes)
        for upstream in app.upstreams.values():
            upstream.breaker.reset()
        return app

    return make


def wsgi(app, method, path, *, headers=(), body=b"", query="", chunked=False) -> Answer:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": f"192.0.2.{uuid.uuid4().int % 250}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "shop.example",
    }
    if body and not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    for name, value in headers:
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, response_headers

    started = time.perf_counter()
    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    message = Message()
    for name, value in seen["headers"]:
        message[name] = value
    return Answer(int(seen["status"].split()[0]), message, content, time.perf_counter() - started)


@pytest.fixture
def stub():
    upstream = RecordingUpstream()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def _mint():
    return TokenMint()


@pytest.fixture
def mint(_mint):
    return _mint.install()


def test_paths_of_no_route_go_to_django(edge_for, stub):
    app = edge_for(stub.url)
    answer = wsgi(app, "GET", "/healthz")
    assert (answer.status_code, answer.content) == (418, b"django")
    assert stub.count == 0


def test_a_valid_token_passes_and_names_the_user(edge_for, stub, mint):
    app = edge_for(stub.url)
    user_id = str(uuid.uuid4())
    token = mint.token(user_id=user_id, roles=["customer"])
    answer = wsgi(
        app, "POST", "/api/v1/things/", headers=[("Authorization", f"Bearer {token}")], body=b"{}"
    )
    assert answer.status_code == 200
    seen = stub.last()
    assert seen.headers["Authorization"] == f"Bearer {token}"
    assert seen.headers["X-Forwarded-Proto"] == "https"
    assert seen.headers["X-Forwarded-Host"] == "shop.example"


def test_the_token_matrix_is_refused_at_the_edge(edge_for, stub, mint):
    from platform_tools.testing.contract import token_cases

    app = edge_for(stub.url)
    for case_id, header, status, code in token_cases(mint):
        if status != 401:
            continue  # the one a service refuses (a scope it wants)
        headers = [("Authorization", header)] if header else []
        answer = wsgi(app, "GET", "/api/v1/things/", headers=headers)
        assert_error(answer, 401, code)
        assert answer["WWW-Authenticate"] == 'Bearer realm="api"', case_id
    assert stub.count == 0


def test_a_refused_token_does_not_spend_the_budget_of_the_user_it_names(edge_for, stub, mint):
    app = edge_for(stub.url)
    app.user_budget = Budget("user", 2, 3600)
    user_id = str(uuid.uuid4())
    forged = mint.tampered(mint.claims(user_id=user_id), roles=["admin"])
    for _ in range(5):
        assert (
            wsgi(
                app, "GET", "/api/v1/things/", headers=[("Authorization", f"Bearer {forged}")]
            ).status_code
            == 401
        )
    good = [("Authorization", f"Bearer {mint.token(user_id=user_id)}")]
    assert [wsgi(app, "GET", "/api/v1/things/", headers=good).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_claimed_identity_reads_the_token_without_trusting_it(mint):
    assert _claimed_identity(mint.token(user_id="u-1")) == "u-1"
    assert _claimed_identity(mint.token(client_id="order")) == "order"
    assert _claimed_identity("not.a-token") is None
    assert _claimed_identity("x") is None
    assert len(_claimed_identity(mint.token(user_id="u" * 500))) == 64


def test_idempotent_requests_are_retried_after_a_broken_connection_and_posts_are_not(edge_for):
    hang_up = ScriptedUpstream(
        [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True
    )
    app = edge_for(f"http://127.0.0.1:{hang_up.port}")
    answer = wsgi(app, "GET", "/api/v1/open/")
    assert (answer.status_code, answer.content) == (200, b"ok")
    assert hang_up.connections == 2

    hang_up = ScriptedUpstream(
        [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], close_after=True
    )
    app = edge_for(f"http://127.0.0.1:{hang_up.port}")
    answer = wsgi(app, "POST", "/api/v1/open/", body=b"{}")
    body = assert_error(answer, 503, "upstream_unavailable")
    assert body["error"]["details"]["reason"] == "reset"
    assert hang_up.connections == 1  # a POST that may have been received is not sent again

    # With an Idempotency-Key the service answers a second delivery with its first answer.
    hang_up = ScriptedUpstream(
        [b"", b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"], close_after=True
    )
    app = edge_for(f"http://127.0.0.1:{hang_up.port}")
    keyed = [("Idempotency-Key", "order-7f3a")]
    answer = wsgi(app, "POST", "/api/v1/open/", headers=keyed, body=b"{}")
    assert (answer.status_code, answer.content) == (201, b"ok")
    assert hang_up.connections == 2


def test_a_refused_connection_is_retried_for_any_method(edge_for, settings):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    app = edge_for(f"http://127.0.0.1:{port}")
    body = assert_error(wsgi(app, "POST", "/api/v1/open/", body=b"{}"), 503, "upstream_unavailable")
    assert body["error"]["details"]["reason"] == "connect"


def test_upstream_statuses_pass_through_and_only_unavailability_counts_for_the_breaker(
    edge_for, stub
):
    app = edge_for(stub.url)
    breaker = next(iter(app.upstreams.values())).breaker
    for status in (400, 404, 409, 500, 501):
        stub.respond = lambda seen, s=status: json_reply(s, {"error": {"code": "x"}})
        assert wsgi(app, "GET", "/api/v1/open/").status_code == status
    assert breaker.state == "closed"
    stub.respond = lambda seen: json_reply(503, {"error": {"code": "service_unavailable"}})
    failures = app.upstreams[breaker.upstream].breaker.failures
    answers = [wsgi(app, "GET", "/api/v1/open/") for _ in range(failures + 1)]
    assert [a.status_code for a in answers[:failures]] == [503] * failures  # passed through
    assert answers[:failures][0].json() == {"error": {"code": "service_unavailable"}}
    assert answers[-1].json()["error"]["details"]["reason"] == "circuit_open"


def test_a_hung_upstream_times_out_with_504(edge_for):
    silent = SilentUpstream()
    app = edge_for(silent.url, read=0.3)
    answer = wsgi(app, "GET", "/api/v1/open/")
    body = assert_error(answer, 504, "upstream_timeout")
    assert body["error"]["details"]["reason"] == "read_timeout"
    assert 0.25 < answer.took < 1.0
    silent.close()


def test_bodies_over_the_limit_get_413(edge_for, stub):
    app = edge_for(stub.url, GATEWAY_MAX_BODY_BYTES=1000)
    answer = wsgi(app, "POST", "/api/v1/open/", body=b"x" * 1001)
    assert_error(answer, 413, "payload_too_large")
    answer = wsgi(app, "POST", "/api/v1/open/", body=b"x" * 1500, chunked=True)
    assert_error(answer, 413, "payload_too_large")
    answer = wsgi(app, "POST", "/api/v1/open/", body=b"x" * 900, chunked=True)
    assert answer.status_code == 200 and stub.last().body == b"x" * 900
    assert stub.last().headers["Content-Length"] == "900" and not stub.last().chunked
    empty = wsgi(app, "POST", "/api/v1/open/", body=b"", chunked=True)  # or malformed: granian
    assert_error(empty, 400, "parse_error")  # ends a body it cannot parse without a word


@pytest.mark.parametrize("length", ["12abc", "-1", "²", "١٢", "1 2"])
def test_a_content_length_that_is_not_ascii_digits_gets_400(edge_for, stub, length):
    # "²" and "١٢" pass str.isdigit(); the first then breaks int() (a 500 before), the second
    # reads as 12.
    app = edge_for(stub.url)
    bad = wsgi(app, "POST", "/api/v1/open/", headers=[("Content-Length", length)], body=b"")
    assert_error(bad, 400, "bad_request")
    assert stub.count == 0


def test_a_crash_in_the_edge_answers_500_in_the_error_body(edge_for, stub, monkeypatch):
    app = edge_for(stub.url)
    monkeypatch.setattr(app, "upstream_headers", lambda *a: 1 / 0)
    answer = wsgi(app, "GET", "/api/v1/open/", headers=[("X-Request-ID", "crash-1")])
    assert_error(answer, 500, "server_error")
    assert answer["X-Request-ID"] == "crash-1"


def test_cors_from_the_corsheaders_settings(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example", "null"]
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://\w+\.partner\.example$"]
    cors = Cors()
    assert cors.enabled
    assert cors.allowed("https://shop.example") and cors.allowed("null")
    assert cors.allowed("https://a.partner.example")
    assert not cors.allowed("http://shop.example") and not cors.allowed("https://evil.example")
    preflight = dict(cors.headers({"HTTP_ORIGIN": "https://shop.example"}, "OPTIONS"))
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Methods" in preflight and "Access-Control-Max-Age" in preflight
    assert cors.headers({"HTTP_ORIGIN": "https://evil.example"}, "GET") == []
    settings.CORS_ALLOWED_ORIGINS, settings.CORS_ALLOWED_ORIGIN_REGEXES = [], []
    assert not Cors().enabled


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "internal"),
    [
        ("127.0.0.1", None, 0, True),  # the kubelet's probe on the pod, a sidecar
        ("10.4.0.7", None, 0, True),  # Prometheus from its pod
        ("::ffff:192.168.1.5", None, 0, True),
        ("::1", None, 0, True),
        ("203.0.113.9", None, 0, False),
        ("203.0.113.9", "10.0.0.1", 0, False),  # no proxy is trusted: the header is not read
        ("10.4.0.2", "203.0.113.9", 1, False),  # the ingress (private) says who called it
        ("10.4.0.2", "10.0.0.1, 203.0.113.9", 1, False),  # the client's own claim comes first
        ("10.4.0.2", "10.9.8.7", 1, True),  # a pod of the cluster, through the ingress
        ("10.4.0.2", "unknown", 1, False),
    ],
)
def test_who_is_on_the_clusters_own_network(rf, settings, peer, forwarded, proxies, internal):
    from edge.views import is_internal

    settings.GATEWAY_TRUSTED_PROXIES = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert is_internal(rf.get("/readyz", REMOTE_ADDR=peer, **headers)) is internal
    settings.GATEWAY_INTERNAL_NETWORKS = ["100.64.0.0/10"]  # a pod network outside the defaults
    assert is_internal(rf.get("/readyz", REMOTE_ADDR="100.64.3.4"))
    assert not is_internal(rf.get("/readyz", REMOTE_ADDR="10.4.0.7"))


def test_the_system_checks_refuse_what_the_edge_cannot_honour(settings):
    from edge.checks import check_gateway

    assert check_gateway() == []
    settings.GATEWAY_THROTTLES = {"user": "lots"}
    settings.UPSTREAMS = {**settings.UPSTREAMS, "order": "ftp://x"}
    settings.GATEWAY_MAX_BODY_BYTES = 0
    settings.GATEWAY_INTERNAL_NETWORKS = ["10.0.0.0/8", "10.0.0.300/8"]
    assert {error.id for error in check_gateway()} == {
        "gateway.E001",
        "gateway.E002",
        "gateway.E003",
        "gateway.E006",
    }
