"""Single sign-on across the admins (service_kit.admin_sso.staff_sessions and views), in process:
a ticket from the front page signs a person in to one admin, once; every refusal answers a 4xx
with its code; the staff session's state, checked at each request, signs the person out or
changes their rights at the next click; signing out here ends the staff session everywhere."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.test import Client

from service_kit.admin_sso import SESSION_KEY, CredentialChecker, use_credentials
from service_kit.admin_sso.staff_sessions import (
    BINDING_COOKIE,
    TICKET_TYPE,
    session_binding,
    session_forget,
    session_publish,
    ticket_audience,
)

pytestmark = pytest.mark.django_db

PREFIX = {"HTTP_X_FORWARDED_PREFIX": "/admin/orders", "HTTP_X_FORWARDED_HOST": "localhost:8000"}


@pytest.fixture(autouse=True)
def orders_admin(settings):
    """The kit's project plays the orders admin (the console knows it)."""
    settings.SERVICE_NAME = "order"


def staff_session(*roles: str, amr=("pwd",), **state) -> tuple[str, dict]:
    session = str(uuid.uuid4())
    values = {
        "user_id": str(uuid.uuid4()),
        "email": f"kim.{session[:6]}@example.com",
        "is_staff": True,
        "is_active": True,
        "roles": list(roles),
        "amr": list(amr),
        **state,
    }
    session_publish(session, values, expires_at=time.time() + 600)
    return session, values


def ticket(mint, session: str, state: dict, *, service: str = "order", **claims) -> str:
    """A ticket as auth_service signs it (the mint's key is trusted here)."""
    values = {
        "user_id": state["user_id"],
        "token_type": TICKET_TYPE,
        "aud": ticket_audience(service),
        "sid": session,
        "lifetime": 30,
        **claims,
    }
    return mint.sign(mint.claims(**values))


def redeem(client, token: str, next_: str = "/admin/", *, bound: bool = True):
    """``sso/`` with the ticket, from a browser the front page bound to the ticket's session
    (its cookie) unless ``bound`` is false."""
    if bound:
        try:
            session = jwt.decode(token, options={"verify_signature": False}).get("sid")
        except jwt.PyJWTError:
            session = None
        if isinstance(session, str):
            client.cookies[BINDING_COOKIE] = session_binding(session)
    return client.get("/admin/sso/", {"ticket": token, "next": next_})


def error_code(response) -> str:
    return response.json()["error"]["code"]


def signed_in(client, mint, *roles: str, amr=("pwd",)) -> tuple[str, dict]:
    session, state = staff_session(*roles, amr=amr)
    response = redeem(client, ticket(mint, session, state), "/admin/?q=1")
    assert response.status_code == 302, response.content
    assert response["Location"] == "/admin/?q=1"
    return session, state


# -- a ticket signs in once, to its own admin --------------------------------------------------


def test_a_ticket_signs_the_person_in_to_this_admin(client, mint):
    session, state = signed_in(client, mint, "order_manager")

    assert client.get("/admin/").status_code == 200
    assert client.session[SESSION_KEY]["sid"] == session
    user = client.get("/admin/").context["user"]
    assert user.email == state["email"]
    assert set(user.groups.values_list("name", flat=True)) == {"order_manager"}


def test_a_ticket_is_good_once(client, mint):
    session, state = staff_session("order_manager")
    token = ticket(mint, session, state)
    assert redeem(client, token).status_code == 302

    replayed = redeem(Client(), token)
    assert (replayed.status_code, error_code(replayed)) == (403, "ticket_used")


def test_a_ticket_is_redeemed_only_in_the_browser_it_was_issued_to(client, mint):
    """A sign-in forced on someone (a link with another person's ticket: login CSRF) is refused:
    their browser holds no binding to that session, or the binding of their own."""
    session, state = staff_session("order_manager")
    own, _ = staff_session("order_manager")

    unbound = redeem(Client(), ticket(mint, session, state), bound=False)
    assert (unbound.status_code, error_code(unbound)) == (403, "ticket_not_bound")
    victim = Client()
    victim.cookies[BINDING_COOKIE] = session_binding(own)
    forced = victim.get("/admin/sso/", {"ticket": ticket(mint, session, state), "next": "/admin/"})
    assert (forced.status_code, error_code(forced)) == (403, "ticket_not_bound")
    assert SESSION_KEY not in victim.session
    assert redeem(client, ticket(mint, session, state)).status_code == 302


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        (lambda mint, s, st: ticket(mint, s, st, service="payment"), "ticket_audience"),
        (lambda mint, s, st: ticket(mint, s, st, exp=int(time.time()) - 60), "ticket_expired"),
        (
            lambda mint, s, st: mint.tampered(
                mint.claims(
                    user_id=st["user_id"],
                    token_type=TICKET_TYPE,
                    sid=s,
                    aud=ticket_audience("order"),
                ),
                roles=["admin"],
            ),
            "ticket_signature",
        ),
        (lambda mint, s, st: mint.token(user_id=st["user_id"], sid=s), "ticket_audience"),
        (
            lambda mint, s, st: ticket(mint, s, st, token_type="access"),
            "ticket_token_type",
        ),
        (lambda mint, s, st: "not.a.ticket", "ticket_malformed"),
        (lambda mint, s, st: ticket(mint, str(uuid.uuid4()), st), "session_ended"),
        (lambda mint, s, st: ticket(mint, s, st, user_id=str(uuid.uuid4())), "session_ended"),
    ],
    ids=[
        "another-admins",
        "expired",
        "tampered",
        "an-access-token",
        "not-a-ticket",
        "malformed",
        "unknown-session",
        "another-persons-session",
    ],
)
def test_a_ticket_that_is_not_good_here_is_refused(client, mint, forge, code):
    session, state = staff_session("order_manager")

    response = redeem(client, forge(mint, session, state))

    assert (response.status_code, error_code(response)) == (403, code)
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_ticket_of_an_ended_session_is_refused(client, mint):
    session, state = staff_session("order_manager")
    token = ticket(mint, session, state)
    session_forget(session)  # signed out elsewhere meanwhile

    response = redeem(client, token)
    assert (response.status_code, error_code(response)) == (403, "session_ended")


@pytest.mark.parametrize(
    "next_",
    [
        "https://evil.example/admin/",
        "//evil.example/admin/",
        "/\\evil.example/",
        "/admin/../api/v1/orders/",
        "/api/v1/orders/",
        "javascript:alert(1)",
    ],
)
def test_an_open_redirect_is_refused_before_the_ticket_is_spent(client, mint, next_):
    session, state = staff_session("order_manager")
    token = ticket(mint, session, state)

    response = redeem(client, token, next_)

    assert (response.status_code, error_code(response)) == (400, "invalid_redirect")
    assert redeem(client, token).status_code == 302


def test_a_ticket_missing_is_a_bad_request(client):
    response = client.get("/admin/sso/")
    assert (response.status_code, error_code(response)) == (400, "ticket_missing")


@pytest.mark.parametrize(
    ("roles", "amr", "code"),
    [
        (("catalogue_manager",), ("pwd",), "admin_not_open"),
        (("customer",), ("pwd",), "not_staff"),
        (("admin",), ("pwd",), "second_factor_required"),
    ],
)
def test_the_person_must_be_let_into_this_admin(client, mint, roles, amr, code):
    session, state = staff_session(*roles, amr=amr, is_staff="customer" not in roles)

    response = redeem(client, ticket(mint, session, state))

    assert (response.status_code, error_code(response)) == (403, code)


# -- each request checks the staff session -----------------------------------------------------


def test_signed_out_elsewhere_is_signed_out_here_at_the_next_click(client, mint):
    session, _ = signed_in(client, mint, "order_manager")
    session_forget(session)  # what auth_service does when any admin signs the person out

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=%2Fadmin%2F"
    assert SESSION_KEY not in client.session


def test_a_demotion_takes_effect_at_the_next_click(client, mint):
    session, state = signed_in(client, mint, "order_manager", "support")
    session_publish(session, {**state, "roles": ["support"]}, expires_at=time.time() + 600)

    user = client.get("/admin/").context["user"]
    assert set(user.groups.values_list("name", flat=True)) == {"support"}
    assert client.session[SESSION_KEY]["sid"] == session  # still signed in, with less


def test_a_role_this_admin_does_not_grant_leaves_nothing_here(client, mint):
    session, state = signed_in(client, mint, "order_manager")
    session_publish(
        session, {**state, "roles": ["catalogue_manager"]}, expires_at=time.time() + 600
    )

    user = client.get("/admin/").context["user"]
    assert set(user.groups.values_list("name", flat=True)) == {"catalogue_manager"}
    assert not user.get_all_permissions()


@pytest.mark.parametrize(
    "change",
    [
        {"roles": []},
        {"roles": ["customer"]},
        {"is_staff": False},
        {"is_active": False},
        {"email": "new.address@example.com"},
    ],
    ids=["no-role-left", "customer-only", "staff-flag-removed", "deactivated", "new-email"],
)
def test_losing_this_admin_signs_the_person_out_of_it(client, mint, change):
    session, state = signed_in(client, mint, "order_manager")
    session_publish(session, {**state, **change}, expires_at=time.time() + 600)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert SESSION_KEY not in client.session


class Recorder(CredentialChecker):
    def __init__(self) -> None:
        self.ended: list[str] = []

    def session_end(self, session: str) -> None:
        self.ended.append(session)


def test_signing_out_here_ends_the_staff_session_everywhere(client, mint):
    recorder = Recorder()
    use_credentials(recorder)
    try:
        session, _ = signed_in(client, mint, "order_manager")
        assert client.post("/admin/logout/").status_code == 200
        assert recorder.ended == [session]
        # Signed out here because the session ended elsewhere: not ended again from here.
        other = Client()
        ended_elsewhere, _ = signed_in(other, mint, "order_manager")
        session_forget(ended_elsewhere)
        assert other.get("/admin/").status_code == 302
        assert recorder.ended == [session]
    finally:
        use_credentials(None)


# -- behind the gateway the sign-in is the front page's -----------------------------------------


@pytest.mark.parametrize(
    ("asked", "to"),
    [
        ("/admin/orders/orders/order/?status=paid", "/admin/orders/orders/order/?status=paid"),
        ("https://evil.example/", "/admin/orders/"),
        ("/admin/payments/", "/admin/orders/"),
        ("", "/admin/orders/"),
    ],
)
def test_the_sign_in_behind_the_gateway_is_the_front_pages(client, asked, to):
    response = client.get("/admin/login/", {"next": asked} if asked else {}, **PREFIX)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/admin/"
    assert parse_qs(location.query) == {"to": [to]}


def test_the_sign_in_reached_directly_is_the_form(client):
    assert 'name="password"' in client.get("/admin/login/").content.decode()
