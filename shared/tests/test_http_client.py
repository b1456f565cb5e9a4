"""service_kit.http: the service-to-service client against real upstreams.

The product service runs as a real process for the breaker's whole life; small stubs in threads
(an HTTP server that records what it is sent, sockets that hang up or never answer) stand for
upstreams that misbehave in one precise way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from platform_tools.testing.faults import SocketUpstream
from platform_tools.testing.processes import free_port, wait_for
from platform_tools.testing.stubs import serve
from service_kit.api.errors import UpstreamTimeout, UpstreamUnavailable
from service_kit.context import request_id_var
from service_kit.http import CircuitBreaker, CircuitOpen, ServiceClient
from service_kit.platform import BY_NAME

RETRIES = 2


# -- upstream stand-ins ---------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    headers: Message
    body: bytes


class StubUpstream:
    """A threaded HTTP/1.1 server recording each request and answering the ``upcoming`` statuses
    in turn, then ``status``."""

    def __init__(self, status: int = 200, body: bytes = b'{"ok": true}'):
        self.status = status
        self.upcoming: list[int] = []
        self.body = body
        self.requests: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's pool expects

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                stub.requests.append(Seen(self.command, self.path, self.headers, body))
                self.send_response(stub.upcoming.pop(0) if stub.upcoming else stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(stub.body)

            do_GET = do_HEAD = do_OPTIONS = do_PUT = do_DELETE = do_POST = do_PATCH = answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = serve(self.server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubUpstream]:
    upstream = StubUpstream()
    yield upstream
    upstream.close()


@pytest.fixture
def hang_up_upstream() -> Iterator[SocketUpstream]:
    upstream = SocketUpstream(hang_up=True)
    yield upstream
    upstream.close()


@pytest.fixture
def silent_upstream() -> Iterator[SocketUpstream]:
    upstream = SocketUpstream(hang_up=False)
    yield upstream
    upstream.close()


@pytest.fixture(autouse=True)
def http_client_settings(settings):
    settings.HTTP_CLIENT = {
        "CONNECT_TIMEOUT": 0.5,
        "READ_TIMEOUT": 2.0,
        "RETRIES": RETRIES,
        "BREAKER_FAILURES": 3,
        "BREAKER_RESET_TIMEOUT": 1.0,
    }
    return settings


@pytest.fixture
def client_for(settings):
    """A client for a new upstream name at ``url`` (its own breaker state in the cache)."""

    def make(url: str, **kwargs) -> ServiceClient:
        name = f"stub-{uuid.uuid4().hex[:8]}"
        settings.UPSTREAMS = {**settings.UPSTREAMS, name: url}
        return ServiceClient(name, **kwargs)

    return make


def wait_for_state(breaker: CircuitBreaker, state: str, timeout: float = 10.0) -> None:
    wait_for(lambda: breaker.state == state, timeout, interval=0.05, what=f"the breaker {state}")


def requests_counted(upstream: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_client_requests_total", {"upstream": upstream, "outcome": outcome}
    )
    return value or 0.0


# -- a real upstream through the breaker's whole life ----------------------------------------
def test_breaker_opens_on_a_stopped_upstream_and_closes_when_it_is_back(harness_factory, settings):
    harness = harness_factory("embedded")
    product = BY_NAME["product"]
    web = harness.start_web(product)
    settings.UPSTREAMS = {**settings.UPSTREAMS, "product": web.url}
    client = ServiceClient("product")
    client.breaker.reset()

    # Given a healthy upstream, a GET answers its JSON with the caller's request id forwarded.
    token = request_id_var.set("breaker-test-1")
    try:
        response = client.get("/api/v1/products/", params={"page": 1})
    finally:
        request_id_var.reset(token)
    assert response.status == 200
    assert response.json()["results"] == []
    assert response.headers["X-Request-ID"] == "breaker-test-1"
    assert client.breaker.state == "closed"

    # When the upstream stops, each call fails (after its retries) until the breaker opens.
    web.stop()
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable) as refused:
            client.get("/api/v1/products/")
        assert refused.value.details == {"upstream": "product"}
    assert client.breaker.state == "open"

    # Then the next call fails at once, without touching the network.
    started = time.perf_counter()
    with pytest.raises(UpstreamUnavailable) as rejected:
        client.get("/api/v1/products/")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.020
    assert rejected.value.status_code == 503
    assert rejected.value.default_code == "upstream_unavailable"
    assert rejected.value.details["upstream"] == "product"
    assert rejected.value.details["reason"] == "circuit_open"
    assert requests_counted("product", "rejected") >= 1

    # When the upstream is back on the same port and the reset timeout has passed,
    # the trial call succeeds and closes the breaker for the calls after it.
    harness.start_web(product, port=web.port, migrate=False)
    wait_for_state(client.breaker, "half_open")
    assert client.get("/api/v1/products/").status == 200
    assert client.breaker.state == "closed"
    assert [client.get("/api/v1/products/").status for _ in range(3)] == [200, 200, 200]


# -- errors ------------------------------------------------------------------------------------
def test_a_read_timeout_raises_upstream_timeout_and_is_not_retried(client_for, silent_upstream):
    client = client_for(silent_upstream.url, read_timeout=0.3)

    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout) as timed_out:
        client.get("/slow/")
    elapsed = time.perf_counter() - started

    assert 0.3 <= elapsed < 1.5
    assert timed_out.value.status_code == 504
    assert timed_out.value.default_code == "upstream_timeout"
    assert timed_out.value.details == {"upstream": client.upstream}
    assert silent_upstream.accepted == 1
    assert requests_counted(client.upstream, "timeout") == 1


def test_a_refused_connection_raises_upstream_unavailable(client_for):
    client = client_for(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(UpstreamUnavailable) as refused:
        client.get("/api/v1/products/")

    assert refused.value.status_code == 503
    assert refused.value.default_code == "upstream_unavailable"
    assert refused.value.details == {"upstream": client.upstream}
    assert requests_counted(client.upstream, "unavailable") == 1


# -- retries -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "attempts"),
    [
        ("GET", 1 + RETRIES),
        ("HEAD", 1 + RETRIES),
        ("OPTIONS", 1 + RETRIES),
        ("PUT", 1 + RETRIES),
        ("DELETE", 1 + RETRIES),
        ("POST", 1),
        ("PATCH", 1),
    ],
)
def test_a_503_is_retried_only_for_idempotent_methods(client_for, stub, method, attempts):
    stub.status = 503
    client = client_for(stub.url)

    response = client.request(method, "/api/v1/things/", json=None)

    assert response.status == 503  # the upstream's answer is returned, not raised
    assert [seen.method for seen in stub.requests] == [method] * attempts


@pytest.mark.parametrize(("method", "attempts"), [("GET", 1 + RETRIES), ("POST", 1)])
def test_a_hang_up_is_retried_only_for_idempotent_methods(
    client_for, hang_up_upstream, method, attempts
):
    client = client_for(hang_up_upstream.url)

    with pytest.raises(UpstreamUnavailable):
        client.request(method, "/api/v1/things/", json={"name": "lamp"})

    assert hang_up_upstream.accepted == attempts


def test_a_retried_get_returns_the_answer_that_finally_came(client_for, stub):
    stub.upcoming = [502]  # one bad answer, then the stub's usual 200
    client = client_for(stub.url)

    response = client.get("/api/v1/things/")

    assert response.status == 200
    assert response.json() == {"ok": True}
    assert len(stub.requests) == 2


# -- headers and body --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["token", "token_provider"])
def test_request_id_and_service_token_are_forwarded(client_for, stub, how):
    client = (
        client_for(stub.url, token="svc-token")
        if how == "token"
        else client_for(stub.url, token_provider=lambda: "svc-token")
    )
    token = request_id_var.set("req-abc")
    try:
        client.post("/api/v1/orders/", json={"amount": Decimal("9.90"), "sku": "LAMP-1"})
    finally:
        request_id_var.reset(token)

    (seen,) = stub.requests
    assert seen.path == "/api/v1/orders/"
    assert seen.headers["X-Request-ID"] == "req-abc"
    assert seen.headers["Authorization"] == "Bearer svc-token"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == b'{"amount": "9.90", "sku": "LAMP-1"}'


def test_no_request_id_or_token_is_sent_when_there_is_none(client_for, stub):
    client = client_for(stub.url)

    client.get("/api/v1/things/", params={"q": "lamp shade", "tag": ["a", "b"]})

    (seen,) = stub.requests
    assert seen.path == "/api/v1/things/?q=lamp+shade&tag=a&tag=b"
    assert seen.headers["X-Request-ID"] is None
    assert seen.headers["Authorization"] is None


# -- the breaker -------------------------------------------------------------------------------
def test_4xx_answers_leave_the_breaker_closed_and_5xx_open_it(client_for, stub):
    client = client_for(stub.url, breaker_failures=2)

    stub.status = 404
    assert [client.get("/missing/").status for _ in range(3)] == [404, 404, 404]
    assert client.breaker.state == "closed"

    stub.status = 500  # not a retried status: one request per call
    assert [client.get("/broken/").status for _ in range(2)] == [500, 500]
    assert client.breaker.state == "open"
    with pytest.raises(UpstreamUnavailable):
        client.get("/broken/")

    assert len(stub.requests) == 5  # the rejected call never reached the upstream
    assert requests_counted(client.upstream, "ok") == 3
    assert requests_counted(client.upstream, "server_error") == 2
    assert requests_counted(client.upstream, "rejected") == 1


def test_a_failed_trial_reopens_the_breaker_and_a_good_one_closes_it(client_for, stub):
    stub.status = 500
    client = client_for(stub.url, breaker_failures=1, breaker_reset_timeout=0.3)
    client.post("/api/v1/orders/")
    assert client.breaker.state == "open"

    # Half-open: one trial goes through; its 500 is returned and the breaker opens again.
    wait_for_state(client.breaker, "half_open")
    assert client.post("/api/v1/orders/").status == 500
    assert client.breaker.state == "open"
    with pytest.raises(UpstreamUnavailable):
        client.post("/api/v1/orders/")
    assert len(stub.requests) == 2

    stub.status = 201
    wait_for_state(client.breaker, "half_open")
    assert client.post("/api/v1/orders/").status == 201
    assert client.breaker.state == "closed"
    assert client.post("/api/v1/orders/").status == 201


def test_only_one_trial_is_let_through_while_half_open():
    # Breakers with no local memory stand for processes sharing the cache; ``stale`` remembers
    # what it read for a minute, like a process that has not looked again yet.
    name = f"trial-{uuid.uuid4().hex[:8]}"
    first = CircuitBreaker(name, failures=1, reset_timeout=0.2, local_ttl=0)
    second = CircuitBreaker(name, failures=1, reset_timeout=0.2, local_ttl=0)
    stale = CircuitBreaker(name, failures=1, reset_timeout=0.2, local_ttl=60)
    first.record_failure()
    assert second.state == "open"
    assert stale.state == "open"
    with pytest.raises(CircuitOpen):
        second.allow()

    # past the reset timeout: the breaker (as every process reads it) lets one trial through
    wait_for(lambda: second.state == "half_open", 5, interval=0.02, what="the reset timeout")
    assert first.allow() is True  # the trial
    with pytest.raises(CircuitOpen):
        second.allow()

    first.record_success(trial=True)
    assert second.state == "closed"
    assert second.allow() is False  # an ordinary call
    # The stale one wins the (free) trial lock, finds the breaker closed, and lets it go.
    assert stale.allow() is False
    assert stale.state == "closed"
    assert second.allow() is False


def test_breaker_state_is_shared_with_other_processes(client_for, stub):
    client = client_for(stub.url, breaker_failures=2, breaker_reset_timeout=30)
    assert client.get("/api/v1/things/").status == 200

    # Another process sees two failures of the same upstream and opens its breaker.
    script = (
        "import django; django.setup()\n"
        "from service_kit.http import breaker_for\n"
        f"breaker = breaker_for({client.upstream!r}, failures=2, reset_timeout=30)\n"
        "breaker.record_failure(); breaker.record_failure()\n"
        "print(breaker.state)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    other = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.splitlines()[-1] == "open"  # after its log lines

    # This process follows once its local snapshot expires, without calling the upstream.
    wait_for(
        lambda: client.breaker.state == "open",
        client.breaker.local_ttl + 5,
        interval=0.05,
        what="this process to read the shared state",
    )
    with pytest.raises(UpstreamUnavailable):
        client.get("/api/v1/things/")
    assert len(stub.requests) == 1


# -- the service token -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body"),
    [(401, b'{"error": {"code": "not_authenticated"}}'), (200, b'{"token": "no access key"}')],
    ids=["credentials-refused", "unusable-answer"],
)
def test_a_refused_service_token_is_upstream_unavailable_not_a_crash(
    settings, monkeypatch, status, body
):
    from service_kit.auth.service_tokens import ServiceTokenProvider

    auth = StubUpstream(status=status, body=body)
    try:
        settings.UPSTREAMS = {**settings.UPSTREAMS, "auth": auth.url}
        monkeypatch.setenv("SERVICE_CLIENT_ID", "user")
        monkeypatch.setenv("SERVICE_CLIENT_SECRET", "not-the-secret")

        with pytest.raises(UpstreamUnavailable) as raised:
            ServiceTokenProvider()()
    finally:
        auth.close()

    assert raised.value.details == {"upstream": "auth", "reason": "service_token_refused"}
    (seen,) = auth.requests
    assert seen.path == "/api/v1/auth/service-token/"


def test_a_revoked_service_token_is_replaced_and_the_call_sent_again(settings, monkeypatch):
    """auth_service revokes a client's tokens when its secret is reset or its scopes change: the
    callee's 401 makes the provider fetch a new token, and the call goes again with it, once."""
    from service_kit.auth.service_tokens import ServiceTokenProvider

    auth = StubUpstream(body=b'{"access": "second", "expires_in": 300}')
    callee = StubUpstream(body=b'{"ok": true}')
    try:
        settings.UPSTREAMS = {**settings.UPSTREAMS, "auth": auth.url}
        monkeypatch.setenv("SERVICE_CLIENT_ID", "order")
        monkeypatch.setenv("SERVICE_CLIENT_SECRET", "the-secret")
        provider = ServiceTokenProvider()
        provider._token, provider._expires = "first", time.monotonic() + 300  # held, now revoked
        client = ServiceClient("payment", base_url=callee.url, token_provider=provider)
        callee.upcoming = [401]

        answer = client.post("/api/v1/payments/", json={"amount": "1.00"})

        assert answer.status == 200
        assert [seen.headers["Authorization"] for seen in callee.requests] == [
            "Bearer first",
            "Bearer second",
        ]
        assert len(auth.requests) == 1
        # A caller's own Authorization (a person's token passed on) is not the provider's to
        # replace: its 401 is the answer.
        callee.upcoming = [401]
        refused = client.get("/api/v1/payments/", headers={"Authorization": "Bearer person"})
        assert refused.status == 401
        assert len(callee.requests) == 3
    finally:
        auth.close()
        callee.close()
