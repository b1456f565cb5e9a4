"""The staff front page at /admin/ (in process; the sign-in through auth_service on real
processes is in test_gateway_site): who is sent to sign in, and which admins each role sees."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from edge.routes import ADMIN_SEGMENTS, Router, default_routes

from platform_tools.testing.permissions import admin_sign_in
from service_kit.admin_sso import (
    SESSION_KEY,
    CredentialChecker,
    Identity,
    session_forget,
    session_publish,
    shadow_user_sync,
    use_credentials,
)
from service_kit.roles import ADMINS

pytestmark = pytest.mark.django_db


def admins_listed(page: str) -> list[str]:
    listing = page.split('<ul class="console-admins">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="(/admin/[a-z]+/)">', listing)


def test_the_front_page_sends_a_stranger_to_the_staff_sign_in(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/gateway/login/?next=/admin/"
    sign_in = client.get(response["Location"]).content.decode()
    # email, password and the one-time code the roles moving money need
    assert all(f'name="{name}"' in sign_in for name in ("email", "password", "otp"))
    assert "Gateway · Commerce platform" in sign_in


@pytest.mark.parametrize(
    ("role", "admins"),
    [
        ("order_manager", ["/admin/orders/"]),
        ("payment_manager", ["/admin/payments/"]),
        ("catalogue_manager", ["/admin/products/"]),
        (
            "support",
            [
                "/admin/auth/",
                "/admin/users/",
                "/admin/products/",
                "/admin/inventory/",
                "/admin/orders/",
                "/admin/payments/",
            ],
        ),
        (
            "admin",
            [
                "/admin/auth/",
                "/admin/users/",
                "/admin/products/",
                "/admin/inventory/",
                "/admin/orders/",
                "/admin/payments/",
                "/admin/gateway/",
            ],
        ),
    ],
)
def test_the_front_page_lists_the_admins_the_roles_open(client, role, admins):
    admin_sign_in(client, role)

    response = client.get("/admin/")

    assert response.status_code == 200
    page = response.content.decode()
    assert admins_listed(page) == admins
    # the bar offers the same admins, and the shared sign-out
    bar = page.split('<nav class="console-bar"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'href="(/admin/(?:[a-z]+/)?)"', bar) == ["/admin/", *admins]
    assert 'action="/admin/gateway/logout/"' in page


def test_the_gateways_own_admin_carries_the_bar(client):
    admin_sign_in(client, "admin")

    page = client.get("/admin/gateway/").content.decode()

    assert "<title>Administration | Gateway · Commerce platform</title>" in page
    assert '<a href="/admin/">Front page</a>' in page
    assert '<strong aria-current="page">Gateway</strong>' in page


def test_the_console_knows_every_admin_the_gateway_routes():
    consoled = {segment: service for service, (segment, _, _) in ADMINS.items()}
    assert consoled == {**ADMIN_SEGMENTS, "gateway": "gateway"}


# -- single sign-on: the front page hands each admin a ticket ----------------------------------


class Tickets(CredentialChecker):
    """auth_service's ticket endpoint, as the front page sees it."""

    def __init__(self, ticket: str | None = "signed-ticket") -> None:
        self.issued: list[tuple[str, str]] = []
        self.answer = ticket

    def ticket(self, session: str, service: str) -> str | None:
        self.issued.append((session, service))
        return self.answer


@pytest.fixture
def tickets():
    checker = Tickets()
    use_credentials(checker)
    yield checker
    use_credentials(None)


def sso_sign_in(client, *roles: str) -> str:
    """Signed in at the front page with a staff session, as the gateway's sign-in does it."""
    session = str(uuid.uuid4())
    identity = Identity(
        user_id=str(uuid.uuid4()),
        email=f"sso.{session[:6]}@example.com",
        is_staff=True,
        roles=frozenset(roles),
        amr=frozenset({"pwd", "otp"}),
        issued_at=time.time(),
        session=session,
    )
    state = {
        "user_id": identity.user_id,
        "email": identity.email,
        "is_staff": True,
        "is_active": True,
        "roles": sorted(roles),
        "amr": ["otp", "pwd"],
    }
    session_publish(session, state, expires_at=time.time() + 600)
    user = shadow_user_sync(identity)
    user.admin_sso_identity = identity  # type: ignore[attr-defined]  # read at the sign-in
    client.force_login(user)
    return session


def test_the_front_page_sends_on_to_an_admin_with_a_ticket_for_it(client, tickets):
    session = sso_sign_in(client, "order_manager")

    response = client.get("/admin/", {"to": "/admin/orders/orders/order/?status=paid"})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/admin/orders/sso/"
    assert parse_qs(location.query) == {
        "ticket": ["signed-ticket"],
        "next": ["/admin/orders/orders/order/?status=paid"],
    }
    assert tickets.issued == [(session, "order")]


@pytest.mark.parametrize(
    "to",
    [
        "https://evil.example/admin/orders/",
        "//evil.example/admin/orders/",
        "/admin/nowhere/",
        "/api/v1/orders/",
        "/admin/orders/../../api/",
        "/\\evil.example/",
        "",
    ],
)
def test_the_front_page_redirects_nowhere_else(client, tickets, to):
    sso_sign_in(client, "admin")

    response = client.get("/admin/", {"to": to})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_redirect"
    assert tickets.issued == []


def test_no_ticket_for_an_admin_the_roles_do_not_open(client, tickets):
    sso_sign_in(client, "order_manager")

    response = client.get("/admin/", {"to": "/admin/payments/"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_not_open"
    assert tickets.issued == []


def test_a_session_ended_elsewhere_signs_out_of_the_front_page(client, tickets):
    session = sso_sign_in(client, "support")
    assert client.get("/admin/").status_code == 200
    session_forget(session)  # signed out in another admin

    response = client.get("/admin/", {"to": "/admin/orders/"})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/gateway/login/?next=")
    assert tickets.issued == []
    assert client.get("/admin/").status_code == 302


def test_a_session_auth_service_no_longer_tickets_signs_out(client, tickets):
    sso_sign_in(client, "support")
    tickets.answer = None

    response = client.get("/admin/", {"to": "/admin/orders/"})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/gateway/login/")


def test_a_demotion_shows_at_the_front_page_at_the_next_click(client, tickets):
    session = sso_sign_in(client, "support")
    state = {
        "user_id": client.session[SESSION_KEY]["user_id"],
        "email": f"sso.{session[:6]}@example.com",
        "is_staff": True,
        "is_active": True,
        "roles": ["order_manager"],
        "amr": ["pwd"],
    }
    session_publish(session, state, expires_at=time.time() + 600)

    assert admins_listed(client.get("/admin/").content.decode()) == ["/admin/orders/"]
    assert client.get("/admin/", {"to": "/admin/payments/"}).status_code == 403


def test_auth_services_staff_session_routes_are_not_reachable_through_the_gateway(client):
    router = Router(default_routes())
    for path in ("/internal/staff-sessions/", "/internal/staff-sessions/ticket/"):
        assert router.match(path) is None  # the gateway's own Django, which has no such page
        assert client.post(path, {}, content_type="application/json").status_code == 404
