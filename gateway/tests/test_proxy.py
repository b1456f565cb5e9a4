"""The gateway's proxy core on real processes: routing, authentication at the edge, throttling
shared by two gateways, and resilience against a stopped and a hung upstream.

Every service runs as it does in production (granian, PostgreSQL, Redis, RabbitMQ), and so does
the gateway. Tokens: auth_service signs real ones; a TokenMint signs the token matrix's. Both are
trusted everywhere because every process's ``JWT_JWKS_URL`` is a small JWKS server in this test
that serves the mint's key beside auth_service's. A recording upstream (a threaded HTTP server
in this process) stands for a service where a test needs to see exactly what arrived, or count
that nothing did.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from platform_tools.testing import backing
from platform_tools.testing.contract import assert_error, token_cases
from platform_tools.testing.processes import Harness, free_port, wait_for
from platform_tools.testing.stubs import JsonStub
from platform_tools.testing.tokens import TokenMint
from service_kit.auth import revoke_jti
from service_kit.platform import BY_NAME

from .doubles import (
    RecordingUpstream,
    SilentUpstream,
    bearer,
    call,
    chunked,
    json_reply,
    raw,
)

SERVICES = ["auth", "user", "product", "inventory", "order", "payment"]
PASSWORD = "Correct-Horse-Battery-9"
BIG_BUDGETS = "user=100000/min,anon=100000/min,auth=100000/min,admin=100000/min"
SEED_PRODUCT = """
from tests.factories import CategoryFactory, ProductFactory
category = CategoryFactory(name="Lighting", slug="lighting")
ProductFactory(sku="LAMP-1", name="Desk lamp", slug="desk-lamp", price="12.50", category=category)
ProductFactory(sku="LAMP-2", name="Floor lamp", slug="floor-lamp", price="80.00", category=category)
"""
SEED_PROFILE = "from tests.factories import ProfileFactory; ProfileFactory(user_id='{}')"
SEED_STOCK = (
    "from tests.factories import StockItemFactory; StockItemFactory(sku='LAMP-1', on_hand=7)"
)


def manage(harness: Harness, name: str, *args: str, **env: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", *args],
        cwd=BY_NAME[name].path,
        env=harness.env_for(BY_NAME[name], **env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def log_of(harness: Harness, name: str) -> str:
    return (harness.folder / "logs" / f"{name}.web.log").read_text(errors="replace")


class Platform:
    def __init__(self, harness: Harness, mint: TokenMint, jwks: RecordingUpstream, stub):
        self.harness = harness
        self.mint = mint
        self.jwks = jwks
        self.stub = stub
        self.procs: dict = {}
        self.identity = {"JWT_JWKS_URL": f"{jwks.url}/.well-known/jwks.json"}

    def upstream_env(self, **urls: str) -> dict[str, str]:
        env = {f"{name.upper()}_SERVICE_URL": self.procs[name].url for name in SERVICES}
        env.update({f"{name.upper()}_SERVICE_URL": url for name, url in urls.items()})
        return env

    def start_gateway(self, **env: str):
        env = {"GATEWAY_THROTTLES": BIG_BUDGETS, **self.identity, **env}
        # env holds environment variables (upper-case), never one of start_web's own keywords
        gateway = BY_NAME["gateway"]
        proc = self.harness.start_web(gateway, wait=False, migrate=False, **env)  # type: ignore[arg-type]
        return proc.wait_http("/healthz")

    def token(self, **claims) -> str:
        claims.setdefault("roles", ["customer"])
        return self.mint.token(**claims)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("proxy"), profile="real", broker_url=backing.create_vhost()
    )
    mint = TokenMint()
    auth_url: list[str] = []

    def serve_jwks(seen):
        keys = list(mint.jwks["keys"])
        if auth_url:
            with urllib.request.urlopen(f"{auth_url[0]}/.well-known/jwks.json", timeout=5) as r:
                keys += json.loads(r.read())["keys"]
        return json_reply(200, {"keys": keys})

    jwks = RecordingUpstream(serve_jwks)
    stub = RecordingUpstream()
    world = Platform(harness, mint, jwks, stub)
    try:
        envs = {name: dict(world.identity) for name in SERVICES}
        envs["auth"] = {"JWT_AUTO_KEY": "1"}
        for name in [*SERVICES, "gateway"]:
            harness.database_for(BY_NAME[name])
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda n: harness.migrate(BY_NAME[n], **envs.get(n, {})), envs))
            harness.migrate(BY_NAME["gateway"])
        manage(harness, "product", "shell", "-c", SEED_PRODUCT)
        manage(harness, "product", "collectstatic", "--noinput", "-v", "0")
        manage(harness, "inventory", "shell", "-c", SEED_STOCK)
        for name in SERVICES:
            world.procs[name] = harness.start_web(
                BY_NAME[name], wait=False, migrate=False, **envs[name]
            )
        for proc in world.procs.values():
            proc.wait_http()
        auth_url.append(world.procs["auth"].url)
        world.gateway = world.start_gateway(**world.upstream_env())
        yield world
    finally:
        harness.cleanup()
        jwks.close()
        stub.close()


@pytest.fixture(scope="module")
def stub_gateway(platform):
    """A gateway whose every upstream is the recording stub; 3 MiB body limit."""
    urls = dict.fromkeys(SERVICES, platform.stub.url)
    return platform.start_gateway(
        **platform.upstream_env(**urls), GATEWAY_MAX_BODY_BYTES=str(3 * 1024 * 1024)
    )


@pytest.fixture
def stub(platform):
    platform.stub.respond = lambda seen: json_reply()
    return platform.stub


def rid() -> str:
    return f"probe-{uuid.uuid4().hex}"


# -- 1. routing: every route reaches its service, everything passes through ----------------------
def test_every_route_reaches_its_service(platform):
    gw, h = platform.gateway.url, platform.harness
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"

    def reached(name: str, request_id: str) -> bool:
        return request_id in log_of(h, name)

    # auth: register, sign in, me with the real token, the JWKS document.
    probe = rid()
    registered = call(
        gw,
        "POST",
        "/api/v1/auth/register/",
        headers={"Content-Type": "application/json", "X-Request-ID": probe},
        body=json.dumps({"email": email, "password": PASSWORD}).encode(),
    )
    assert registered.status_code == 201, registered
    assert registered.json()["email"] == email
    assert registered["X-Request-ID"] == probe
    assert wait_for(lambda: reached("auth", probe), 5, what="auth's log line")
    signed_in = call(
        gw,
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": email, "password": PASSWORD}).encode(),
    )
    assert signed_in.status_code == 200, signed_in
    access = signed_in.json()["access"]
    me = call(gw, "GET", "/api/v1/auth/me/", headers=bearer(access))
    assert me.status_code == 200 and me.json()["email"] == email
    jwks = call(gw, "GET", "/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"]

    # product: public reads with their query strings, a HEAD, a write's 400 passed through.
    listing = call(gw, "GET", "/api/v1/products/?search=lamp&ordering=-price")
    assert listing.status_code == 200
    assert [p["sku"] for p in listing.json()["results"]] == ["LAMP-2", "LAMP-1"]
    detail = call(gw, "GET", "/api/v1/products/desk-lamp/")
    assert detail.status_code == 200 and detail.json()["price"] == "12.50"
    head = call(gw, "HEAD", "/api/v1/products/desk-lamp/")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == detail["Content-Length"]
    categories = call(gw, "GET", "/api/v1/categories/")
    assert [c["slug"] for c in categories.json()["results"]] == ["lighting"]
    staff = platform.token(roles=["catalogue_manager"], is_staff=True)
    refused = call(
        gw,
        "POST",
        "/api/v1/products/",
        headers={**bearer(staff), "Content-Type": "application/json"},
        body=b"{}",
    )
    assert "sku" in assert_error(refused, 400, "validation_error")["error"]["details"]

    # inventory, user, order and payment with a token: whatever they answer is theirs (their
    # APIs grow meanwhile), and each one's own access log has the request.
    token = platform.token()
    stock = call(gw, "GET", "/api/v1/inventory/LAMP-1/", headers=bearer(token))
    assert stock.status_code == 200 and stock.json()["on_hand"] == 7
    for name, path in [
        ("user", "/api/v1/users/me/"),
        ("order", "/api/v1/orders/?status=PENDING"),
        ("payment", "/api/v1/payments/"),
    ]:
        probe = rid()
        answer = call(gw, "GET", path, headers={**bearer(token), "X-Request-ID": probe})
        assert answer.status_code in (200, 404), answer
        assert answer["Content-Type"] == "application/json"
        assert answer["X-Request-ID"] == probe
        assert wait_for(lambda n=name, p=probe: reached(n, p), 5, what=f"{name}'s log line")

    # an admin and its static files, under the gateway's prefix.
    probe = rid()
    login = call(gw, "GET", "/admin/products/login/", headers={"X-Request-ID": probe})
    # its sign-in is the front page's (single sign-on): a redirect written under the prefix
    assert login.status_code == 302
    assert login["Location"] == "/admin/?to=%2Fadmin%2Fproducts%2F"
    assert wait_for(lambda: reached("product", probe), 5, what="product's log line")
    css = call(gw, "GET", "/admin/products/static/admin/css/base.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert b"body" in css.content
    bare = call(gw, "GET", "/admin/products?x=1")
    assert bare.status_code == 301 and bare["Location"] == "/admin/products/?x=1"

    # Django's own pages are not proxied.
    assert call(gw, "GET", "/healthz").json() == {"status": "ok", "service": "gateway"}


def test_method_query_headers_and_body_pass_through_and_hop_by_hop_headers_do_not(
    platform, stub_gateway, stub
):
    stub.respond = lambda seen: (
        418,
        [
            ("Content-Type", "application/json"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/"),
            ("Connection", "X-Upstream-Hop"),
            ("X-Upstream-Hop", "dropped"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("X-Upstream-Kept", "yes"),
            ("ETag", '"v1"'),
        ],
        b'{"teapot": true}',
    )
    token = platform.token()
    body = json.dumps({"lines": [{"product_id": 1, "quantity": 2}]}).encode()
    answer = call(
        stub_gateway.url,
        "PATCH",
        "/api/v1/orders/abc/?b=2&a=%20x&a=%C3%A9",
        headers=[
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Idempotency-Key", "key-1"),
            ("X-Request-ID", "caller-id-1"),
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Prefix", "/evil"),
            ("Connection", "keep-alive, X-Client-Hop"),
            ("X-Client-Hop", "dropped"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic abc"),
            ("Proxy", "http://evil.example"),
            ("TE", "trailers"),
            # a client's trace context is not trusted (tracing on, the gateway starts the trace)
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("tracestate", "vendor=evil"),
            ("User-Agent", "shop/1.0"),
            ("If-Match", '"v0"'),
        ],
        body=body,
    )
    # The upstream's answer, as it gave it, without its hop-by-hop headers.
    assert answer.status_code == 418
    assert answer.json() == {"teapot": True}
    assert answer.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert answer["X-Upstream-Kept"] == "yes" and answer["ETag"] == '"v1"'
    for name in ("X-Upstream-Hop", "Keep-Alive", "Proxy-Authenticate"):
        assert name not in answer, name
    assert answer["X-Request-ID"] == "caller-id-1"

    # The request, as the client made it, without its hop-by-hop headers.
    seen = stub.last()
    assert seen.method == "PATCH"
    assert seen.target == "/api/v1/orders/abc/?b=2&a=%20x&a=%C3%A9"
    assert seen.body == body and not seen.chunked
    h = seen.headers
    assert h["Authorization"] == f"Bearer {token}"  # services verify again
    assert h["Content-Type"] == "application/json; charset=utf-8"
    assert h["Content-Length"] == str(len(body))
    assert h["Idempotency-Key"] == "key-1" and h["If-Match"] == '"v0"'
    assert h["User-Agent"] == "shop/1.0"
    assert h["X-Request-ID"] == "caller-id-1"
    assert h["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1"
    assert h["X-Forwarded-Proto"] == "http"
    assert h["X-Forwarded-Host"] == f"127.0.0.1:{stub_gateway.port}"
    assert h["Host"] == f"127.0.0.1:{stub.port}"
    for name in (
        "X-Forwarded-Prefix",
        "X-Client-Hop",
        "Keep-Alive",
        "Proxy-Authorization",
        "Proxy",
        "TE",
        "traceparent",
        "tracestate",
        "Connection",
    ):
        # (Connection is urllib3's own keep-alive default or absent, never the client's.)
        assert name not in h or (name == "Connection" and "x-client-hop" not in h[name].lower())

    # A request id is made when the caller has none, and sent both ways.
    stub.respond = lambda seen: json_reply()
    fresh = call(stub_gateway.url, "GET", "/api/v1/products/")
    assert fresh.status_code == 200
    assert fresh["X-Request-ID"] == stub.last().headers["X-Request-ID"]
    assert "User-Agent" not in stub.last().headers  # not urllib3's


def test_admin_paths_map_to_the_services_admin_and_static_with_the_prefix(stub_gateway, stub):
    call(stub_gateway.url, "GET", "/admin/orders/orders/order/?q=1")
    assert stub.last().target == "/admin/orders/order/?q=1"
    assert stub.last().headers["X-Forwarded-Prefix"] == "/admin/orders"
    call(stub_gateway.url, "GET", "/admin/payments/static/admin/js/core.js")
    assert stub.last().target == "/static/admin/js/core.js"
    assert stub.last().headers["X-Forwarded-Prefix"] == "/admin/payments"
    count = stub.count
    assert call(stub_gateway.url, "GET", "/admin/gateway/").status_code == 302  # Django's own
    assert call(stub_gateway.url, "GET", "/api/v1/x/../../admin/").status_code == 404
    dotted = call(stub_gateway.url, "GET", "/api/v1/products/../users/me/")
    assert_error(dotted, 400, "bad_request")
    assert stub.count == count


def test_a_2mb_upload_reaches_the_upstream_whole_and_a_large_answer_streams_back(
    platform, stub_gateway, stub
):
    payload = os.urandom(2 * 1024 * 1024)
    digest = hashlib.sha256(payload).hexdigest()
    stub.respond = lambda seen: json_reply(
        201, {"bytes": len(seen.body), "sha256": hashlib.sha256(seen.body).hexdigest()}
    )
    headers = {**bearer(platform.token()), "Content-Type": "application/octet-stream"}

    sized = call(stub_gateway.url, "PUT", "/api/v1/users/me/avatar/", headers=headers, body=payload)
    assert sized.status_code == 201
    assert sized.json() == {"bytes": len(payload), "sha256": digest}
    assert stub.last().headers["Content-Length"] == str(len(payload)) and not stub.last().chunked

    blocks = [payload[i : i + 100_000] for i in range(0, len(payload), 100_000)]
    chunked = call(
        stub_gateway.url, "PUT", "/api/v1/users/me/avatar/", headers=headers, chunks=blocks
    )
    assert chunked.status_code == 201
    assert chunked.json() == {"bytes": len(payload), "sha256": digest}
    # Read whole first and sent on with its length (a service would read a chunked body as empty).
    assert stub.last().headers["Content-Length"] == str(len(payload)) and not stub.last().chunked

    # An answer of unknown length streams back whole.
    stub.respond = lambda seen: (200, [("Content-Type", "application/octet-stream")], blocks)
    download = call(stub_gateway.url, "GET", "/api/v1/users/me/avatar/", headers=headers)
    assert download.status_code == 200 and download.content == payload


def test_an_oversize_body_gets_413_before_it_is_read(platform, stub_gateway, stub):
    # Content-Length over the limit: answered at once, the body never sent (nor read).
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", platform.gateway.port, timeout=10)
    conn.putrequest("POST", "/api/v1/products/")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert body["error"]["details"] == {"max_bytes": 10 * 1024 * 1024}

    # Chunked, no length: cut off once past the limit (3 MiB here); the upstream gets nothing
    # it could take for a whole request.
    count = stub.count
    blocks = [b"x" * 256 * 1024] * 16  # 4 MiB
    answer = call(
        stub_gateway.url,
        "POST",
        "/api/v1/orders/",
        headers={**bearer(platform.token()), "Content-Type": "application/json"},
        chunks=blocks,
    )
    assert_error(answer, 413, "payload_too_large")
    # Nothing of it reached the upstream: the next request through the gateway is the next one
    # the upstream records (it records a request before answering it).
    after = call(
        stub_gateway.url, "GET", "/api/v1/products/?after=413", headers=bearer(platform.token())
    )
    assert after.status_code == 200
    assert stub.count == count + 1 and stub.last().target.endswith("after=413"), stub.last()


def test_a_kept_alive_client_connection_survives_a_refusal_with_an_unread_body(stub_gateway, stub):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", stub_gateway.port, timeout=10)
    try:
        conn.request("POST", "/api/v1/orders/", body=b'{"x": 1}' * 500)  # 401: body not read
        refused = conn.getresponse()
        assert refused.status == 401
        refused.read()
        for _ in range(3):
            conn.request("GET", "/api/v1/products/")
            answer = conn.getresponse()
            assert (answer.status, json.loads(answer.read())) == (200, {"ok": True})
    finally:
        conn.close()


# -- chunked request bodies: applied whole, refused when too large or malformed ------------------
# granian hands a WSGI application a chunked body without CONTENT_LENGTH, which Django reads as
# empty: a chunked PATCH used to answer 200 and change nothing, through the gateway or not.
@pytest.fixture(scope="module")
def profile(platform):
    user_id = str(uuid.uuid4())
    manage(platform.harness, "user", "shell", "-c", SEED_PROFILE.format(user_id))
    return {"Authorization": f"Bearer {platform.token(user_id=user_id)}"}


def first_name(url: str, auth: dict[str, str]) -> str:
    me = call(url, "GET", "/api/v1/users/me/", headers=auth)
    assert me.status_code == 200, me
    return me.json()["first_name"]


def base_url(platform, via: str) -> str:
    return platform.gateway.url if via == "gateway" else platform.procs["user"].url


@pytest.mark.parametrize("via", ["gateway", "user"])
def test_a_chunked_patch_is_applied_whole(platform, profile, via):
    url = base_url(platform, via)
    document = json.dumps({"first_name": f"Grace-{via}", "last_name": "Hopper"}).encode()
    headers = {**profile, "Content-Type": "application/json"}

    answer = raw(url, chunked("PATCH", "/api/v1/users/me/", headers, [document[:9], document[9:]]))

    assert answer.status_code == 200, answer
    assert (answer.json()["first_name"], answer.json()["last_name"]) == (f"Grace-{via}", "Hopper")
    assert first_name(url, profile) == f"Grace-{via}"


@pytest.mark.parametrize("via", ["gateway", "user"])
@pytest.mark.parametrize(
    "framing",
    [
        b'zz\r\n{"first_name": "Mallory"}\r\n0\r\n\r\n',  # the size is not hexadecimal
        b'9\r\n{"first_name": "Mallory"}\r\n0\r\n\r\n',  # the data overruns its size
    ],
    ids=["bad-size", "overrun"],
)
def test_a_malformed_chunked_body_gets_400_and_changes_nothing(platform, profile, via, framing):
    url = base_url(platform, via)
    before = first_name(url, profile)
    headers = {**profile, "Content-Type": "application/json"}

    answer = raw(url, chunked("PATCH", "/api/v1/users/me/", headers, [], framing=framing))

    assert_error(answer, 400, "parse_error")
    assert first_name(url, profile) == before != "Mallory"


@pytest.mark.parametrize("via", ["gateway", "user"])
def test_a_chunked_body_over_the_limit_gets_413_and_changes_nothing(platform, profile, via):
    url = base_url(platform, via)
    before = first_name(url, profile)
    padding = b" " * (10 * 1024 * 1024)  # JSON whitespace: the document stays valid
    document = b'{"first_name": "Bulky",' + padding + b'"last_name": "X"}'
    blocks = [document[i : i + 256 * 1024] for i in range(0, len(document), 256 * 1024)]

    answer = call(
        url,
        "PATCH",
        "/api/v1/users/me/",
        headers={**profile, "Content-Type": "application/json"},
        chunks=blocks,
    )

    assert_error(answer, 413, "payload_too_large")
    assert answer.json()["error"]["details"] == {"max_bytes": 10 * 1024 * 1024}
    assert first_name(url, profile) == before


# -- 2. authentication at the edge ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer not.a.jwt", "token_not_valid"),
        ("Token abc", "token_not_valid"),
        ("Bearer", "token_not_valid"),
    ],
)
def test_a_protected_route_without_a_valid_token_gets_401_and_the_upstream_is_not_called(
    stub_gateway, stub, header, code
):
    count = stub.count
    for method, path in [("GET", "/api/v1/orders/"), ("POST", "/api/v1/payments/")]:
        headers = {"Authorization": header} if header else {}
        answer = call(stub_gateway.url, method, path, headers=headers, body=b"{}")
        assert_error(answer, 401, code)
        assert answer["WWW-Authenticate"] == 'Bearer realm="api"'
    assert stub.count == count


def test_the_token_matrix_against_a_protected_route_through_the_gateway(platform):
    """The kit's matrix at user_service's ``me/`` through the gateway: bad tokens are refused by
    the gateway (401), the service-token-without-scope one by the service (403)."""
    cases = token_cases(platform.mint)
    for case_id, header, status, code in cases:
        headers = {"Authorization": header} if header else {}
        answer = call(platform.gateway.url, "GET", "/api/v1/users/me/", headers=headers)
        assert_error(answer, status, code)
        if status == 401:
            assert answer["WWW-Authenticate"].startswith("Bearer"), case_id
    valid = call(platform.gateway.url, "GET", "/api/v1/users/me/", headers=bearer(platform.token()))
    assert valid.status_code not in (401, 403), valid


def test_a_revoked_token_gets_401_at_the_gateway(platform, stub_gateway, stub):
    claims = platform.mint.claims(roles=["customer"])
    token = platform.mint.sign(claims)
    assert (
        call(stub_gateway.url, "GET", "/api/v1/orders/", headers=bearer(token)).status_code == 200
    )
    revoke_jti(claims["jti"], claims["exp"])
    count = stub.count
    answer = call(stub_gateway.url, "GET", "/api/v1/orders/", headers=bearer(token))
    body = assert_error(answer, 401, "token_not_valid")
    assert body["error"]["details"] == {"reason": "revoked"}
    assert stub.count == count

    # A real sign-out: auth_service revokes the access token; the gateway refuses it at once.
    gw = platform.gateway.url
    email = f"bo-{uuid.uuid4().hex[:8]}@example.com"
    json_headers = {"Content-Type": "application/json"}
    credentials = json.dumps({"email": email, "password": PASSWORD}).encode()
    assert (
        call(
            gw, "POST", "/api/v1/auth/register/", headers=json_headers, body=credentials
        ).status_code
        == 201
    )
    pair = call(gw, "POST", "/api/v1/auth/token/", headers=json_headers, body=credentials).json()
    assert (
        call(stub_gateway.url, "GET", "/api/v1/orders/", headers=bearer(pair["access"])).status_code
        == 200
    )
    logout = call(
        gw,
        "POST",
        "/api/v1/auth/logout/",
        headers={**json_headers, **bearer(pair["access"])},
        body=json.dumps({"refresh": pair["refresh"]}).encode(),
    )
    assert logout.status_code == 204, logout
    count = stub.count
    answer = call(stub_gateway.url, "GET", "/api/v1/orders/", headers=bearer(pair["access"]))
    assert assert_error(answer, 401, "token_not_valid")["error"]["details"] == {"reason": "revoked"}
    assert stub.count == count


def test_public_routes_work_without_a_token_and_a_bad_token_there_is_the_services_to_judge(
    platform, stub_gateway, stub
):
    gw = platform.gateway.url
    assert call(gw, "GET", "/api/v1/products/desk-lamp/").status_code == 200
    wrong = call(
        gw,
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": "nobody@example.com", "password": "wrong-password-1"}).encode(),
    )
    assert wrong.status_code in (400, 401) and wrong.json()["error"]["code"]  # auth's answer
    # An expired token on a public route reaches the service unchanged: it decides.
    expired = platform.mint.sign({**platform.mint.claims(), "exp": int(time.time()) - 60})
    for method, path in [
        ("GET", "/api/v1/products/"),
        ("HEAD", "/api/v1/categories/"),
        ("POST", "/api/v1/auth/token/refresh/"),
        ("GET", "/.well-known/jwks.json"),
        ("OPTIONS", "/api/v1/orders/"),
    ]:
        answer = call(stub_gateway.url, method, path, headers=bearer(expired))
        assert answer.status_code == 200, (method, path)
        assert stub.last().path == path and stub.last().method == method
        assert stub.last().headers["Authorization"] == f"Bearer {expired}"
    # The same token on a protected route is the gateway's to refuse.
    assert (
        call(stub_gateway.url, "GET", "/api/v1/orders/", headers=bearer(expired)).status_code == 401
    )
    # A catalogue write is not public.
    assert call(stub_gateway.url, "POST", "/api/v1/products/", body=b"{}").status_code == 401


# -- 3. throttling shared by two gateways --------------------------------------------------------
@pytest.fixture(scope="module")
def two_gateways(platform):
    """Two gateway processes on one Redis prefix, with small budgets; they believe one proxy's
    X-Forwarded-For, so each test is a client address of its own."""
    urls = platform.upstream_env(**dict.fromkeys(SERVICES, platform.stub.url))
    env = {
        "GATEWAY_THROTTLES": "anon=5/hour,auth=3/hour,user=4/hour",
        "GATEWAY_TRUSTED_PROXIES": "1",
    }
    return [platform.start_gateway(**urls, **env) for _ in range(2)]


def not_near_the_hour() -> None:
    """Fixed windows: a burst must not straddle the hour (a new window would forgive it)."""
    wait_for(lambda: 3600 - time.time() % 3600 >= 20, 25, interval=0.5, what="a new hour's window")


def client_address() -> dict[str, str]:
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"203.0.113.{n % 250 + 1}, 10.9.{n // 250 % 250}.1"}


def alternate(gateways, n: int, method: str, path: str, headers: dict, body: bytes | None = None):
    return [call(gateways[i % 2].url, method, path, headers=headers, body=body) for i in range(n)]


def assert_throttled(answer, scope: str) -> None:
    body = assert_error(answer, 429, "throttled")
    retry_after = int(answer["Retry-After"])
    assert 0 < retry_after <= 3600
    assert body["error"]["details"] == {"retry_after": retry_after, "scope": scope}


def test_a_burst_beyond_the_budget_gets_429_shared_by_two_gateways(two_gateways, stub):
    not_near_the_hour()
    address = client_address()
    count = stub.count
    answers = alternate(two_gateways, 7, "GET", "/api/v1/products/", address)
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert_throttled(answers[5], "anon")
    assert stub.count == count + 5  # the throttled ones never reached the upstream
    # Another client address has its own budget.
    assert (
        call(two_gateways[1].url, "GET", "/api/v1/products/", headers=client_address()).status_code
        == 200
    )


def test_sign_in_has_a_tighter_budget(two_gateways, stub):
    not_near_the_hour()
    address = {**client_address(), "Content-Type": "application/json"}
    answers = alternate(two_gateways, 4, "POST", "/api/v1/auth/token/", address, b"{}")
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert_throttled(answers[3], "auth")
    # The same address still has catalogue reads left (3 of its 5 are spent).
    assert call(two_gateways[0].url, "GET", "/api/v1/products/", headers=address).status_code == 200


def test_the_gateways_own_admin_sign_in_has_the_same_budget(two_gateways, stub):
    """Served by the gateway's Django, not proxied: its sign-ins are counted all the same."""
    not_near_the_hour()
    address = {**client_address(), "Content-Type": "application/x-www-form-urlencoded"}
    body = b"email=kim%40example.com&password=guess"
    answers = alternate(two_gateways, 4, "POST", "/admin/gateway/login/", address, body)
    # No CSRF cookie: Django refuses the first three itself; the fourth never reaches it.
    assert [a.status_code for a in answers] == [403, 403, 403, 429]
    assert_throttled(answers[3], "auth")
    page = call(two_gateways[0].url, "GET", "/admin/gateway/login/", headers=address)
    assert page.status_code == 200  # reading the page is not signing in


def test_a_users_budget_is_shared_and_refused_tokens_do_not_spend_it(platform, two_gateways, stub):
    not_near_the_hour()
    user_id = str(uuid.uuid4())
    good = bearer(platform.token(user_id=user_id))
    # Someone forging tokens in this user's name: refused (401), and not counted.
    forged = platform.mint.tampered(platform.mint.claims(user_id=user_id), roles=["admin"])
    refused = alternate(two_gateways, 6, "GET", "/api/v1/orders/", bearer(forged))
    assert {a.status_code for a in refused} == {401}
    answers = alternate(two_gateways, 6, "GET", "/api/v1/orders/", {**good, **client_address()})
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 2
    assert_throttled(answers[4], "user")
    other = bearer(platform.token())
    assert call(two_gateways[0].url, "GET", "/api/v1/orders/", headers=other).status_code == 200


# -- 4. resilience -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resilience(platform):
    """A gateway in front of a product process of its own (stopped and restarted by the test) and
    a hung payment upstream; its own cache prefix, so its breakers are its own."""
    product = platform.harness.start_web(
        BY_NAME["product"], port=free_port(), migrate=False, **platform.identity
    )
    silent = SilentUpstream()
    prefix = f"{backing.cache_prefix()}_resilience"
    gateway = platform.start_gateway(
        **platform.upstream_env(product=product.url, payment=silent.url),
        CACHE_KEY_PREFIX=prefix,
        BREAKER_FAILURES="3",
        BREAKER_RESET_TIMEOUT="2",
        GATEWAY_PAYMENT_READ_TIMEOUT="0.5",
    )
    yield platform, gateway, product
    silent.close()
    import redis

    client = redis.Redis.from_url(backing.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def test_a_stopped_upstream_fails_fast_once_the_breaker_opens_and_recovers(resilience):
    platform, gateway, product = resilience
    gw = gateway.url
    assert call(gw, "GET", "/api/v1/products/").status_code == 200

    product.stop()
    reasons = []
    for _ in range(10):
        answer = call(gw, "GET", "/api/v1/products/")
        body = assert_error(answer, 503, "upstream_unavailable")
        reasons.append(body["error"]["details"]["reason"])
        if reasons[-1] == "circuit_open":
            break
    assert reasons[:3] == ["connect"] * 3 and reasons[-1] == "circuit_open", reasons

    # Open: one call measured, answered without touching the network.
    answer = call(gw, "GET", "/api/v1/products/desk-lamp/")
    body = assert_error(answer, 503, "upstream_unavailable")
    assert body["error"]["details"]["reason"] == "circuit_open"
    assert body["error"]["details"]["upstream"] == "product"
    assert 1 <= int(answer["Retry-After"]) <= 2
    print(f"\n503 with the breaker open took {answer.took * 1000:.2f} ms")
    assert answer.took < 0.1
    # Other upstreams are not affected.
    assert (
        call(gw, "GET", "/api/v1/inventory/LAMP-1/", headers=bearer(platform.token())).status_code
        == 200
    )

    # Back on the same port: after the reset timeout a trial goes through and closes it.
    platform.harness.start_web(
        BY_NAME["product"], port=product.port, migrate=False, **platform.identity
    )
    wait_for(
        lambda: call(gw, "GET", "/api/v1/products/").status_code == 200,
        timeout=15,
        what="the breaker to close",
    )
    assert [call(gw, "GET", "/api/v1/products/").status_code for _ in range(5)] == [200] * 5


def test_a_hung_upstream_gives_504_after_the_read_timeout(resilience):
    platform, gateway, _ = resilience
    answer = call(gateway.url, "GET", "/api/v1/payments/", headers=bearer(platform.token()))
    body = assert_error(answer, 504, "upstream_timeout")
    assert body["error"]["details"] == {"upstream": "payment", "reason": "read_timeout"}
    assert 0.45 <= answer.took < 2.0, answer.took  # the configured 0.5 s, not retried


# -- observability -------------------------------------------------------------------------------
def test_access_log_lines_and_metrics_of_the_lean_path(platform, resilience):
    gw = platform.gateway.url
    probe = rid()
    user_id = str(uuid.uuid4())
    token = platform.token(user_id=user_id)
    assert (
        call(
            gw, "GET", "/api/v1/inventory/LAMP-1/", headers={**bearer(token), "X-Request-ID": probe}
        ).status_code
        == 200
    )

    def line():
        for text in log_of(platform.harness, "gateway").splitlines():
            if probe in text and "http.request" in text:
                return json.loads(text)
        return None

    record = wait_for(line, 5, what="the access log line")
    assert record["http"]["request"]["method"] == "GET"
    assert record["http"]["response"]["status_code"] == 200
    assert record["url"]["path"] == "/api/v1/inventory/LAMP-1/"
    assert record["http"]["request"]["id"] == probe
    assert record["user"]["id"] == user_id
    assert record["event"]["duration"] > 0
    assert record["service"]["name"] == "gateway"

    metrics = call(gw, "GET", "/metrics").content.decode()
    assert 'gateway_requests_total{route="inventory",status="200"}' in metrics
    assert 'gateway_request_duration_seconds_bucket{le="0.05",route="inventory"}' in metrics
    assert 'gateway_upstream_errors_total{kind="circuit_open",upstream="product"}' in metrics
    assert 'gateway_upstream_errors_total{kind="read_timeout",upstream="payment"}' in metrics
    assert 'gateway_refused_total{reason="not_authenticated",route="orders"}' in metrics
    assert 'http_client_breaker_state{upstream="product"}' in metrics
    assert "/api/v1/inventory/LAMP-1/" not in metrics  # route names, never raw paths


def test_cors_preflight_and_answers_on_the_lean_path(platform, stub):
    urls = platform.upstream_env(**dict.fromkeys(SERVICES, platform.stub.url))
    gateway = platform.start_gateway(**urls, CORS_ALLOWED_ORIGINS="https://shop.example")
    origin = {"Origin": "https://shop.example"}
    count = stub.count
    preflight = call(
        gateway.url,
        "OPTIONS",
        "/api/v1/orders/",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200 and stub.count == count  # answered by the gateway
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    read = call(gateway.url, "GET", "/api/v1/products/", headers=origin)
    assert read["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Request-ID" in read["Access-Control-Expose-Headers"]
    assert "Origin" in read["Vary"]
    refused = call(gateway.url, "GET", "/api/v1/orders/", headers=origin)
    assert refused.status_code == 401  # browsers can read the error too
    assert refused["Access-Control-Allow-Origin"] == "https://shop.example"
    other = call(
        gateway.url, "GET", "/api/v1/products/", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other


# -- the gateway's /status, /readyz and /metrics: brief for the public, whole for the cluster -----
LEAK = "OperationalError: connection to amqp://order@10.1.2.3:5672/platform refused"
PUBLIC = {"X-Forwarded-For": "203.0.113.9"}  # as the ingress (the one trusted proxy) writes it
FORGED = {"X-Forwarded-For": "10.0.0.1, 203.0.113.9"}  # the client's own claim comes first
BEHIND = {"X-Forwarded-For": "10.1.2.3"}  # a pod of the cluster, through the same proxy


@dataclass
class ReadyzStub(JsonStub):
    """An upstream's ``/readyz``: ready, or not with an internal error's text in its checks."""

    ready: bool = True

    def answer(self, request):
        if self.ready:
            return 200, {"status": "ok", "checks": {"database": {"ok": True}}, "failed": []}
        checks = {"database": {"ok": True}, "broker": {"ok": False, "error": LEAK}}
        return 503, {"status": "unavailable", "checks": checks, "failed": ["broker"]}


@pytest.fixture(scope="module")
def readiness(platform):
    stubs = {name: ReadyzStub(ready=name != "payment") for name in SERVICES}
    urls = {name: stub.start() for name, stub in stubs.items()}
    try:
        gateway = platform.start_gateway(
            **platform.upstream_env(**urls),
            GATEWAY_TRUSTED_PROXIES="1",
            READYZ_CACHE_SECONDS="60",  # the whole test within one interval
        )
        yield gateway, stubs
    finally:
        for stub in stubs.values():
            stub.stop()


def fan_outs(stubs) -> dict[str, int]:
    return {name: len(stub.requests) for name, stub in stubs.items()}


def test_the_public_gets_the_status_without_details_and_a_flood_costs_one_fan_out(readiness):
    gateway, stubs = readiness

    with ThreadPoolExecutor(16) as pool:
        flood = list(
            pool.map(lambda _: call(gateway.url, "GET", "/status", headers=PUBLIC), range(48))
        )
    forged = call(gateway.url, "GET", "/status", headers=FORGED)

    for answer in [*flood, forged]:
        assert answer.status_code == 503
        assert answer.json() == {"status": "unavailable", "service": "gateway"}
    assert fan_outs(stubs) == dict.fromkeys(SERVICES, 1)
    # The gateway's own readiness asks no upstream: payment down, it can still route.
    for headers in (PUBLIC, FORGED):
        own = call(gateway.url, "GET", "/readyz", headers=headers)
        assert own.status_code == 200
        assert own.json() == {"status": "ok", "service": "gateway"}
    assert fan_outs(stubs) == dict.fromkeys(SERVICES, 1)
    for headers in (PUBLIC, FORGED):
        assert_error(
            call(gateway.url, "GET", "/metrics", headers=headers), 403, "permission_denied"
        )


def test_the_cluster_gets_readiness_details_and_metrics(readiness):
    gateway, stubs = readiness

    for headers in ({}, BEHIND):  # the kubelet or Prometheus on the pod, or through the proxy
        inside = call(gateway.url, "GET", "/status", headers=headers)
        assert inside.status_code == 503
        body = inside.json()
        assert body["status"] == "unavailable" and body["failed"] == ["payment"]
        assert body["upstreams"]["payment"]["checks"]["broker"] == {"ok": False, "error": LEAK}
        assert set(body["upstreams"]) == set(SERVICES)
        own = call(gateway.url, "GET", "/readyz", headers=headers).json()
        assert own["failed"] == [] and set(own["checks"]) == {"database", "cache"}
        metrics = call(gateway.url, "GET", "/metrics", headers=headers)
        assert metrics.status_code == 200
        assert 'http_client_breaker_state{upstream="payment"}' in metrics.content.decode()
    assert max(fan_outs(stubs).values()) <= 1  # still the same interval: no new fan-out


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/../../../readyz",
        "/api/v1/users/%2e%2e/%2e%2e/%2e%2e/metrics",
        "/api/v1/users/..%2f..%2f..%2freadyz",
        "/admin/users/static/..%2f..%2fmetrics",
        "/admin/users/%2E%2E/readyz",
        "/.well-known/jwks.json/../../metrics",
    ],
)
def test_no_path_through_the_gateway_reaches_a_services_readyz_or_metrics(stub_gateway, stub, path):
    count = stub.count
    answer = call(stub_gateway.url, "GET", path, headers=PUBLIC)
    assert answer.status_code in (400, 401, 404), answer
    assert not any(
        seen.path.rstrip("/").endswith(("/readyz", "/metrics")) for seen in stub.requests[count:]
    )
