"""Staff sessions (single sign-on across the admins): opened with a fresh staff token, a ticket
per admin signed with the token keys, ended by any admin's sign-out, a deactivation or a password
change; their state, which every admin reads at each request, follows the person's roles."""

import time
from unittest import mock

import pytest
from accounts import services, staff_sessions
from accounts.models import StaffSession
from django.contrib.auth.models import Group
from mfa.credentials import LocalCredentials

from platform_tools.testing.contract import assert_error
from service_kit.admin_sso import (
    TICKET_TYPE,
    TicketRefused,
    session_binding,
    session_state,
    ticket_redeem,
)
from service_kit.auth import verify_token

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

OPEN = "/internal/staff-sessions/"
TICKET = "/internal/staff-sessions/ticket/"
END = "/internal/staff-sessions/end/"


@pytest.fixture
def kim():
    return StaffFactory(email="kim@example.com", roles=["order_manager", "support"])


def opened(api, email="kim@example.com") -> str:
    pair = api.sign_in(email, PASSWORD)
    response = api.post(OPEN, {}, token=pair["access"])
    assert response.status_code == 201, response.content
    return response.json()["session"]


def test_a_fresh_staff_token_opens_a_staff_session_whose_state_the_admins_read(api, kim):
    session = opened(api)

    assert session_state(session) == {
        "user_id": str(kim.pk),
        "email": "kim@example.com",
        "is_staff": True,
        "is_active": True,
        "roles": ["order_manager", "support"],
        "amr": ["pwd"],
    }


def test_a_customer_or_a_stale_token_opens_none(api, kim):
    UserFactory(email="ada@example.com")
    customer = api.sign_in("ada@example.com", PASSWORD)
    assert_error(api.post(OPEN, {}, token=customer["access"]), 403, "permission_denied")

    pair = api.sign_in("kim@example.com", PASSWORD)
    with mock.patch("accounts.views.time.time", return_value=time.time() + 120):
        assert_error(api.post(OPEN, {}, token=pair["access"]), 403, "stale_token")
    assert not StaffSession.objects.exists()


def test_a_ticket_is_for_one_admin_a_short_while_and_its_session(api, kim):
    session = opened(api)

    response = api.post(TICKET, {"session": session, "audience": "order"})

    assert response.status_code == 200, response.content
    token = response.json()["ticket"]
    claims = verify_token(token, token_type=TICKET_TYPE, audience="admin:order")
    assert (claims["sid"], claims["user_id"]) == (session, str(kim.pk))
    assert 0 < claims["exp"] - claims["iat"] <= 30
    with pytest.raises(TicketRefused):  # only in the browser the front page bound to it
        ticket_redeem(token, service="order", binding=session_binding(session + "x"))
    token = api.post(TICKET, {"session": session, "audience": "order"}).json()["ticket"]
    _, identity = ticket_redeem(token, service="order", binding=session_binding(session))
    assert identity.staff_roles == {"order_manager", "support"}


@pytest.mark.parametrize("audience", ["gateway", "nowhere", ""])
def test_a_ticket_for_no_admin_is_refused(api, kim, audience):
    session = opened(api)
    assert_error(
        api.post(TICKET, {"session": session, "audience": audience}), 400, "validation_error"
    )


def test_an_ended_or_unknown_session_gets_no_ticket(api, kim):
    session = opened(api)
    assert api.post(END, {"session": session}).status_code == 204
    assert session_state(session) is None

    for sid in (session, "6a1f1a0e-7a0c-4a4e-9d5e-000000000000"):
        response = api.post(TICKET, {"session": sid, "audience": "order"})
        assert_error(response, 404, "not_found")
    assert_error(
        api.post(TICKET, {"session": "nope", "audience": "order"}), 400, "validation_error"
    )
    assert api.post(END, {"session": session}).status_code == 204  # again: no harm


def test_a_role_change_is_in_the_state_at_once(api, kim):
    session = opened(api)

    kim.groups.remove(Group.objects.get(name="order_manager"))

    assert session_state(session)["roles"] == ["support"]


def switched_off(user) -> None:
    user.is_active = False
    user.save()


@pytest.mark.parametrize(
    "end",
    [
        switched_off,
        lambda user: services.user_deactivate(user=user),
        lambda user: services.user_sessions_end(user=user),
    ],
    ids=["inactive", "deactivated", "password-changed"],
)
def test_deactivation_or_a_new_password_ends_the_staff_session(api, kim, end):
    session = opened(api)

    end(kim)

    state = session_state(session)
    assert state is None or state["is_active"] is False
    assert api.post(TICKET, {"session": session, "audience": "order"}).status_code == 404


def test_auth_services_own_sign_in_opens_a_staff_session(kim):
    identity = LocalCredentials().verify(None, email="kim@example.com", password=PASSWORD, otp="")

    assert identity.session
    assert session_state(identity.session)["user_id"] == str(kim.pk)
    assert LocalCredentials().ticket(identity.session, "payment")
    LocalCredentials().session_end(identity.session)
    assert session_state(identity.session) is None
    assert staff_sessions.staff_ticket(session_id=identity.session, audience="order") is None
