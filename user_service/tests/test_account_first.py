"""``GET /api/v1/users/{user_id}/`` before ``user.registered`` has been applied: the profile is
made from auth_service's account (read with this service's token), and the event merges into it
later. Unknown users are 404, auth_service down is 503, and a customer never gets this far."""

import socket
import uuid

import pytest
from profiles import services
from profiles.models import Profile

from platform_tools.testing.contract import assert_error

from .factories import ProfileFactory

pytestmark = pytest.mark.django_db

SUPPORT = {"is_staff": True, "roles": ["support"]}
SERVICE = {"client_id": "order", "scopes": ["users:read"]}


def path(user_id) -> str:
    return f"/api/v1/users/{user_id}/"


def read(client, mint, user_id, claims=SUPPORT):
    return client.get(path(user_id), **mint.headers(**claims))


@pytest.mark.parametrize("claims", [SUPPORT, SERVICE], ids=["support", "service"])
def test_a_registered_user_without_the_event_is_read_from_auth_service(
    client, mint, auth_accounts, claims
):
    account = auth_accounts.add(email="kim@example.com", first_name="Kim", last_name="Lee")

    response = read(client, mint, account["id"], claims)

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("id", "email", "first_name", "last_name", "is_active")} == {
        "id": account["id"],
        "email": "kim@example.com",
        "first_name": "Kim",
        "last_name": "Lee",
        "is_active": True,
    }
    assert (body["addresses"], body["erased_at"]) == ([], None)
    [asked] = auth_accounts.requests
    assert asked["path"] == f"/api/v1/auth/users/{account['id']}/"
    assert asked["auth"] == "Bearer svc-user-token"
    assert Profile.objects.get(pk=account["id"]).registered_at is None


def test_the_event_then_merges_into_that_profile_once(client, mint, auth_accounts):
    account = auth_accounts.add(first_name="Kim", last_name="")
    assert read(client, mint, account["id"]).status_code == 200

    profile, created = services.profile_register(
        user_id=uuid.UUID(account["id"]), email="kim@example.com", first_name="K", last_name="Lee"
    )

    assert not created
    assert Profile.objects.filter(pk=account["id"]).count() == 1
    assert (profile.first_name, profile.last_name) == ("Kim", "Lee")  # only the missing name
    assert profile.registered_at is not None
    # Read again: answered from the row, auth_service is not asked again.
    assert read(client, mint, account["id"]).status_code == 200
    assert len(auth_accounts.requests) == 1


def test_a_profile_the_event_made_is_answered_without_asking(client, mint, auth_accounts):
    profile = ProfileFactory()

    assert read(client, mint, profile.user_id).status_code == 200
    assert auth_accounts.requests == []


def test_an_unknown_user_is_not_found_and_nothing_is_made(client, mint, auth_accounts):
    user_id = uuid.uuid4()

    body = assert_error(read(client, mint, user_id), 404, "not_found")

    assert body["error"]["message"] == "No profile exists for this user."
    assert len(auth_accounts.requests) == 1
    assert not Profile.objects.filter(pk=user_id).exists()


def test_a_deactivated_account_makes_an_inactive_profile(client, mint, auth_accounts):
    account = auth_accounts.add(active=False)

    body = read(client, mint, account["id"]).json()

    assert body["is_active"] is False
    services.profile_deactivate(user_id=uuid.UUID(account["id"]))  # its event, later: no error
    assert Profile.objects.get(pk=account["id"]).is_active is False


def test_an_erased_account_makes_a_tombstone_the_registration_cannot_fill(
    client, mint, auth_accounts
):
    account = auth_accounts.add(erased=True, email="erased@erased.invalid", first_name="")

    body = read(client, mint, account["id"]).json()

    assert body["is_active"] is False and body["erased_at"] is not None
    assert body["email"] == services.erased_email(uuid.UUID(account["id"]))
    user_id = uuid.UUID(account["id"])
    services.profile_register(user_id=user_id, email="kim@example.com", first_name="Kim")
    services.profile_erase(user_id=user_id)
    profile = Profile.objects.get(pk=user_id)
    assert (profile.email, profile.first_name, profile.is_active) == (
        services.erased_email(user_id),
        "",
        False,
    )


def test_auth_service_down_is_503_and_nothing_is_made(client, mint, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.UPSTREAMS = {**settings.UPSTREAMS, "auth": f"http://127.0.0.1:{port}"}
    user_id = uuid.uuid4()

    body = assert_error(read(client, mint, user_id), 503, "upstream_unavailable")

    assert body["error"]["details"]["upstream"] == "auth"
    assert not Profile.objects.filter(pk=user_id).exists()


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, {"error": {"code": "not_authenticated"}}, "status_401"),
        (403, {"error": {"code": "permission_denied"}}, "status_403"),
        (500, None, "status_500"),
        (200, {"id": str(uuid.uuid4()), "email": "x@example.com"}, "bad_answer"),
        (200, ["not", "an", "object"], "bad_answer"),
    ],
    ids=["no-identity", "no-scope", "server-error", "another-id", "not-an-object"],
)
def test_an_answer_that_cannot_be_used_is_503_and_nothing_is_made(
    client, mint, auth_accounts, status, body, reason
):
    auth_accounts.status, auth_accounts.body = status, body

    response = read(client, mint, uuid.uuid4())

    error = assert_error(response, 503, "upstream_unavailable")["error"]
    assert error["details"] == {"upstream": "auth", "reason": reason}
    assert not Profile.objects.exists()


def test_a_field_of_the_wrong_type_is_a_bad_answer(client, mint, auth_accounts):
    account = auth_accounts.add(is_active="yes")

    error = assert_error(read(client, mint, account["id"]), 503, "upstream_unavailable")["error"]

    assert error["details"]["reason"] == "bad_answer"
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["customer"]},
        {"is_staff": True, "roles": ["order_manager"]},
        {"client_id": "order", "scopes": ["payments:read"]},
    ],
    ids=["customer", "other-staff", "service-without-scope"],
)
def test_callers_without_the_right_never_make_auth_service_be_asked(
    client, mint, auth_accounts, claims
):
    account = auth_accounts.add()

    assert_error(read(client, mint, account["id"], claims), 403, "permission_denied")

    assert auth_accounts.requests == []
    assert not Profile.objects.exists()
