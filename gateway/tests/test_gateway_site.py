"""The gateway's own site: the admins behind it, /status over every upstream, every API's docs.

In process: the docs page, the schema and readiness views' errors, CORS. On real processes
(auth_service, user_service, product_service and the gateway, PostgreSQL, Redis, RabbitMQ): a
staff member signs in once at the front page and opens two admins through the gateway (single
sign-on), a ticket seen once never works again, one sign-out signs out of all; static files
load; ``/status`` names the one upstream that is down while the gateway's own ``/readyz`` stays
ready; ``/api/schema/`` serves a service's document.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from platform_tools.testing.processes import free_port
from service_kit.ops import client_address
from service_kit.platform import BY_NAME

SERVICES = ["auth", "user", "product", "inventory", "order", "payment"]

# -- in process ----------------------------------------------------------------------------------


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.django_db
def test_the_docs_page_offers_every_services_schema(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '"url": "/api/schema/"' in page  # the merged document, first
    for name in SERVICES:
        assert f'"url": "/api/schema/{name}/"' in page
    assert '"layout": "StandaloneLayout"' in page  # the top bar with the definition selector
    assert "SwaggerUIStandalonePreset]" in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js" in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    chosen = client.get("/api/docs/?service=</script><b>").content.decode()
    assert "</script><b>" not in chosen  # the page's own query cannot close its script


def test_an_unknown_service_has_no_schema(client):
    response = client.get("/api/schema/nothing/")
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_a_schema_from_a_service_that_does_not_answer_is_a_503(client, settings):
    settings.UPSTREAMS = {**settings.UPSTREAMS, "order": closed_port_url()}
    response = client.get("/api/schema/order/")
    assert response.status_code == 503
    assert json.loads(response.content)["error"] == {
        "code": "upstream_unavailable",
        "message": "A service this request depends on is unavailable.",
        "details": {"upstream": "order"},
    }


def test_a_schema_is_kept_briefly_and_an_old_copy_serves_while_its_service_is_down(
    client, settings, monkeypatch
):
    from django.http import HttpResponse
    from edge import views

    answers = [b'{"openapi": "3.0.3", "n": 1}', b'{"openapi": "3.0.3", "n": 2}']
    answers.append(HttpResponse(status=503))
    monkeypatch.setattr(views, "_fetch_schema", lambda service: answers.pop(0))
    monkeypatch.setattr(views, "_schemas", {})
    settings.API_SCHEMA_CACHE_SECONDS = 60
    assert json.loads(client.get("/api/schema/user/").content)["n"] == 1
    assert json.loads(client.get("/api/schema/user/").content)["n"] == 1  # kept
    settings.API_SCHEMA_CACHE_SECONDS = 0
    assert json.loads(client.get("/api/schema/user/").content)["n"] == 2  # fetched again
    stale = client.get("/api/schema/user/")  # the service does not answer: the last copy
    assert stale.status_code == 200 and json.loads(stale.content)["n"] == 2


@pytest.mark.django_db
def test_status_names_every_upstream_that_does_not_answer_quickly(client, settings):
    settings.READYZ_CACHE_SECONDS = 0
    settings.UPSTREAMS = {name: closed_port_url() for name in ["gateway", *SERVICES]}
    settings.READYZ_UPSTREAMS = ["auth", "payment"]
    # The gateway's own readiness: it can route (its database and cache), upstreams down or not.
    own = client.get("/readyz")
    assert own.status_code == 200, own.content
    assert set(json.loads(own.content)["checks"]) == {"database", "cache"}
    started = time.monotonic()
    response = client.get("/status")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable" and body["failed"] == ["auth", "payment"]
    assert set(body["checks"]) == {"database", "cache"}
    assert body["upstreams"]["auth"]["answered"] is False
    assert body["upstreams"]["auth"]["error"].startswith("unreachable: ")
    assert client.post("/status").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db
def test_cors_answers_configured_origins_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}
    allowed = client.options("/api/docs/", HTTP_ORIGIN="https://shop.example", **preflight)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "idempotency-key" in allowed["Access-Control-Allow-Headers"]
    other = client.options("/api/docs/", HTTP_ORIGIN="https://evil.example", **preflight)
    assert "Access-Control-Allow-Origin" not in other
    read = client.get("/healthz", HTTP_ORIGIN="https://shop.example")
    assert read["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Request-ID" in read["Access-Control-Expose-Headers"]


@pytest.mark.django_db
def test_the_gateways_own_admin_lives_beside_the_services(client):
    response = client.get("/admin/gateway/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/gateway/login/?next=/admin/gateway/"


def test_clients_cannot_move_the_gateways_own_pages_under_a_prefix(client):
    response = client.get("/admin/gateway/", HTTP_X_FORWARDED_PREFIX="/elsewhere")
    assert response["Location"].startswith("/admin/gateway/login/")


# -- real processes ------------------------------------------------------------------------------

PASSWORD = "Correct-Horse-Battery-9"
STAFF = "cat@example.com"
SUPPORT = "sup@example.com"
MAKE_STAFF = f"""
from django.contrib.auth.models import Group
from accounts.models import User
for email, role in (({STAFF!r}, "catalogue_manager"), ({SUPPORT!r}, "support")):
    user = User.objects.create_user(email, {PASSWORD!r}, is_staff=True)
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
"""
SIGN_IN = "/admin/gateway/login/"
#: Each admin behind the gateway: its path segment and the service's name (cookie names).
ADMINS = {"products": "product", "users": "user"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from platform_tools.testing import backing
    from platform_tools.testing.processes import Harness

    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("gateway-site"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(BY_NAME["auth"], JWT_AUTO_KEY="1")
        subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", "shell", "-c", MAKE_STAFF],
            cwd=BY_NAME["auth"].path,
            env=harness.env_for(BY_NAME["auth"], JWT_AUTO_KEY="1"),
            check=True,
            capture_output=True,
        )
        identity = {
            "AUTH_SERVICE_URL": auth.url,
            "JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json",
        }
        # As their images are built: the real profile serves collected static files only.
        for name in ("user", "product", "gateway"):
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                cwd=BY_NAME[name].path,
                env=harness.env_for(BY_NAME[name]),
                check=True,
                capture_output=True,
            )
        procs = {"auth": auth}
        for name in ("user", "product"):
            procs[name] = harness.start_web(BY_NAME[name], **identity)
        upstreams = {f"{name.upper()}_SERVICE_URL": proc.url for name, proc in procs.items()}
        # Not started: their routes and schemas are those of services that are down.
        for name in ("inventory", "order", "payment"):
            upstreams[f"{name.upper()}_SERVICE_URL"] = closed_port_url()
        gateway = harness.start_web(
            BY_NAME["gateway"],
            **{**identity, **upstreams},
            READYZ_UPSTREAMS="auth,user,product",
            READYZ_CACHE_SECONDS="0",  # each call asks again: an upstream is stopped in between
        )
        yield harness, gateway, procs
    finally:
        harness.cleanup()


def csrf_cookie(browser: requests.Session, service: str) -> str:
    return browser.cookies[f"{service}_csrftoken"]


def front_sign_in(browser: requests.Session, gateway, email: str, path: str) -> requests.Response:
    """``path`` (an admin's page) opened by a stranger: sent to the front page's sign-in (its CSRF
    cookie), the form posted as a browser posts it (the gateway's Origin), redirects followed:
    the answer of the page, reached through the front page and that admin's ticket."""
    page = browser.get(f"{gateway.url}{path}", timeout=10)
    assert urlsplit(page.url).path == SIGN_IN, page.url
    next_ = parse_qs(urlsplit(page.url).query)["next"][0]
    assert (urlsplit(next_).path, parse_qs(urlsplit(next_).query)) == ("/admin/", {"to": [path]})
    return browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": csrf_cookie(browser, "gateway"),
            "email": email,
            "password": PASSWORD,
            "otp": "",
            "next": next_,
        },
        headers={"Origin": gateway.url, "Referer": page.url},
        timeout=20,
    )


def model_links(html: str, segment: str) -> set[str]:
    return set(re.findall(rf'href="/admin/{segment}/([a-z_]+/[a-z_]+)/"', html))


def test_one_sign_in_at_the_front_page_opens_every_admin_and_one_sign_out_closes_them(site):
    _, gateway, _ = site
    browser = requests.Session()
    first = browser.get(f"{gateway.url}/admin/products/", allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert first.headers["Location"] == "/admin/products/login/?next=/admin/products/"

    products = front_sign_in(browser, gateway, SUPPORT, "/admin/products/")
    assert products.url == f"{gateway.url}/admin/products/", products.text[-2000:]
    assert {"catalogue/category", "catalogue/product"} <= model_links(products.text, "products")
    (ticketed,) = [
        r.headers["Location"] for r in products.history if "/sso/" in r.headers["Location"]
    ]
    assert ticketed.startswith("/admin/products/sso/?ticket=")

    # Another admin, no second sign-in: the front page hands it a ticket of its own.
    users = browser.get(f"{gateway.url}/admin/users/", timeout=10)
    assert users.url == f"{gateway.url}/admin/users/"
    assert 'action="/admin/users/logout/"' in users.text
    paths = {(c.name, c.path) for c in browser.cookies}
    assert {
        ("product_sessionid", "/admin/products/"),
        ("user_sessionid", "/admin/users/"),
        ("gateway_sessionid", "/"),
    } <= paths
    # Both stay signed in: each admin's cookies are its own (names and paths).
    for _ in range(2):
        for segment in ADMINS:
            page = browser.get(f"{gateway.url}/admin/{segment}/", allow_redirects=False, timeout=10)
            assert page.status_code == 200, segment

    # A ticket seen once (it was in a URL) is refused to anyone else, at its admin or another.
    ticket = parse_qs(urlsplit(ticketed).query)["ticket"][0]
    for path, code in (
        (ticketed, "ticket_used"),
        (f"/admin/users/sso/?ticket={ticket}", "ticket_audience"),
    ):
        replayed = requests.get(f"{gateway.url}{path}", allow_redirects=False, timeout=10)
        assert (replayed.status_code, replayed.json()["error"]["code"]) == (403, code), path

    # Signing out of one admin signs out of every admin and the front page.
    out = browser.post(
        f"{gateway.url}/admin/users/logout/",
        data={"csrfmiddlewaretoken": csrf_cookie(browser, "user")},
        headers={"Origin": gateway.url},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 200
    for path in ("/admin/products/", "/admin/users/", "/admin/"):
        page = browser.get(f"{gateway.url}{path}", timeout=10)
        assert urlsplit(page.url).path == SIGN_IN, path


def test_staff_sign_in_at_the_front_page_and_see_the_admins_their_roles_open(site):
    _, gateway, _ = site
    browser = requests.Session()
    first = browser.get(f"{gateway.url}/admin/", allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert first.headers["Location"] == "/admin/gateway/login/?next=/admin/"
    page = browser.get(f"{gateway.url}{first.headers['Location']}", timeout=10)
    assert 'name="otp"' in page.text

    signed_in = browser.post(
        f"{gateway.url}/admin/gateway/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": csrf_cookie(browser, "gateway"),
            "email": STAFF,
            "password": PASSWORD,
            "otp": "",
            "next": "/admin/",
        },
        headers={"Origin": gateway.url, "Referer": f"{gateway.url}/admin/gateway/login/"},
        allow_redirects=False,
        timeout=20,
    )
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    assert signed_in.headers["Location"] == "/admin/"

    front = browser.get(f"{gateway.url}/admin/", allow_redirects=False, timeout=10)
    assert front.status_code == 200
    assert "Commerce platform" in front.text
    # catalogue_manager: the catalogue's admin, and no other
    listing = front.text.split('<ul class="console-admins">', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'href="(/admin/[a-z]+/)"', listing) == ["/admin/products/"]
    assert 'action="/admin/gateway/logout/"' in front.text


def test_a_form_from_another_origin_is_refused(site):
    _, gateway, _ = site
    browser = requests.Session()
    browser.get(f"{gateway.url}{SIGN_IN}", timeout=10)
    response = browser.post(
        f"{gateway.url}{SIGN_IN}",
        data={
            "csrfmiddlewaretoken": csrf_cookie(browser, "gateway"),
            "email": STAFF,
            "password": PASSWORD,
        },
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 403


def test_the_admins_static_files_load_through_the_gateway(site):
    _, gateway, _ = site
    browser = requests.Session()
    page = front_sign_in(browser, gateway, SUPPORT, "/admin/products/").text
    styles = re.findall(r'href="(/admin/products/static/[^"]+\.css)"', page)
    assert "/admin/products/static/admin/css/base.css" in styles
    for url in styles:
        response = requests.get(f"{gateway.url}{url}", timeout=10)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"].startswith("text/css")
        assert "{" in response.text
    scripts = re.findall(
        r'src="(/admin/users/static/[^"]+\.js)"',
        browser.get(f"{gateway.url}/admin/users/", timeout=10).text,
    )
    for url in scripts:
        assert requests.get(f"{gateway.url}{url}", timeout=10).status_code == 200, url


def test_the_docs_list_every_schema_and_serve_a_services_document(site):
    _, gateway, _ = site
    page = requests.get(f"{gateway.url}/api/docs/", timeout=10)
    assert page.status_code == 200
    for name in SERVICES:
        assert f'"url": "/api/schema/{name}/"' in page.text
    assets = re.findall(r'src="(/static/drf_spectacular_sidecar/[^"]+)"', page.text)
    assert len(assets) == 2
    for url in assets:
        assert requests.get(f"{gateway.url}{url}", timeout=10).status_code == 200

    schema = requests.get(f"{gateway.url}/api/schema/product/", timeout=20)
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "product service API"
    assert "/api/v1/products/" in document["paths"]
    assert (
        "/api/v1/auth/token/"
        in requests.get(f"{gateway.url}/api/schema/auth/", timeout=20).json()["paths"]
    )
    down = requests.get(f"{gateway.url}/api/schema/payment/", timeout=10)
    assert down.status_code == 503
    assert down.json()["error"]["details"] == {"upstream": "payment"}


def test_the_gateway_serves_one_document_merged_from_the_services_that_answer(site):
    _, gateway, _ = site
    answer = requests.get(f"{gateway.url}/api/schema/", timeout=30)
    assert answer.status_code == 200
    merged = answer.json()
    assert merged["info"]["title"] == "Commerce platform API"
    assert merged["info"]["x-missing-services"] == ["inventory", "order", "payment"]
    assert {"/api/v1/auth/token/", "/api/v1/users/me/", "/api/v1/products/{key}/"} <= set(
        merged["paths"]
    )
    assert not any(path.startswith("/api/v1/orders/") for path in merged["paths"])
    assert list(merged["components"]["securitySchemes"]) == ["bearerAuth"]
    products = merged["paths"]["/api/v1/products/"]["get"]
    assert products["tags"] == ["products"] and products["summary"] == "List products"
    assert {"400", "429", "503"} <= set(products["responses"])  # the edge's own errors too
    # Unchanged documents: the same ETag, and a conditional GET is answered without a body.
    again = requests.get(
        f"{gateway.url}/api/schema/", headers={"If-None-Match": answer.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304 and again.headers["ETag"] == answer.headers["ETag"]
    page = requests.get(f"{gateway.url}/api/docs/", timeout=10).text
    assert '"urls.primaryName": "platform"' in page and '"url": "/api/schema/"' in page


def test_status_names_exactly_the_upstream_that_is_down(site):
    _, gateway, procs = site
    ready = requests.get(f"{gateway.url}/status", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["failed"] == [] and set(body["upstreams"]) == {"auth", "user", "product"}
    for upstream in body["upstreams"].values():
        assert upstream["ok"] and upstream["status"] == 200
        assert {"database", "cache", "broker"} <= set(upstream["checks"])

    procs["user"].stop()
    started = time.monotonic()
    down = requests.get(f"{gateway.url}/status", timeout=10)
    assert time.monotonic() - started < 2
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["user"]
    assert body["upstreams"]["user"]["answered"] is False
    assert body["upstreams"]["auth"]["ok"] and body["upstreams"]["product"]["ok"]
    # The gateway itself still routes (the other upstreams' requests): it stays ready.
    own = requests.get(f"{gateway.url}/readyz", timeout=10)
    assert own.status_code == 200 and own.json()["failed"] == [], own.text


def test_the_gateways_own_pages_believe_no_client_about_its_address(settings):
    """Its admin's sign-in counts failures per client address: a client's own X-Forwarded-For
    must not choose it (only GATEWAY_TRUSTED_PROXIES' entries count, as at the edge)."""
    assert settings.TRUSTED_PROXIES == settings.GATEWAY_TRUSTED_PROXIES == 0
    meta = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert client_address(meta) == "192.0.2.1"
