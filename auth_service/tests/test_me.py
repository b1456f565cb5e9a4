import pytest
from accounts.models import User
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django_otp.plugins.otp_totp.models import TOTPDevice

from platform_tools.testing.contract import assert_error, token_matrix_test
from platform_tools.testing.tokens import TokenMint

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"

# Tokens signed by a test key: the valid one names no account here, so "me" answers 404.
test_token_matrix = token_matrix_test(ME)
test_token_matrix_on_delete = token_matrix_test(ME, method="delete", body={"password": PASSWORD})


def test_me_shows_the_account(api):
    user = UserFactory(email="kim@example.com", first_name="Kim", last_name="Lee")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]

    response = api.get(ME, token=access)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": "kim@example.com",
        "first_name": "Kim",
        "last_name": "Lee",
        "is_staff": False,
        "roles": ["customer"],
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.parametrize(
    ("staff", "roles"),
    [
        ({"roles": ["support", "order_manager"]}, ["order_manager", "support"]),
        ({"roles": ["admin"], "is_superuser": True}, ["admin"]),
        ({"roles": []}, []),
        ({"roles": ["support"], "is_staff": False}, ["customer"]),
    ],
    ids=["staff-roles", "superuser", "staff-without-roles", "groups-without-staff"],
)
def test_roles_come_from_the_groups_of_staff(api, staff, roles):
    StaffFactory(email="kim@example.com", **staff)
    access = api.sign_in("kim@example.com", PASSWORD)["access"]
    assert api.get(ME, token=access).json()["roles"] == roles


@pytest.mark.parametrize("user_id", ["5d8f3c3e-8a5b-4b7e-9f55-3f1c0e9d2a11", "not-a-uuid"])
def test_a_token_for_an_unknown_account_is_not_found(api, user_id):
    mint = TokenMint().install()
    response = api.get(ME, token=mint.token(user_id=user_id))
    assert_error(response, 404, "not_found")


def test_a_service_token_has_no_me(api):
    mint = TokenMint().install()
    response = api.get(ME, token=mint.token(client_id="order_service", scopes=["users:read"]))
    assert_error(response, 403, "permission_denied")


def test_me_allows_only_get_and_delete(api):
    UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]
    assert_error(api.post(ME, {}, token=access), 405, "method_not_allowed")


def test_erasure_scrubs_the_account_and_ends_every_session(api, outbox):
    user = StaffFactory(email="kim@example.com", first_name="Kim", roles=["support"])
    one = api.sign_in("kim@example.com", PASSWORD)
    two = api.sign_in("kim@example.com", PASSWORD)
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr="kim@example.com",
        action_flag=CHANGE,
    )
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    response = api.delete(ME, {"password": PASSWORD}, token=one["access"])

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.email == f"erased+{user.pk.hex}@invalid"
    assert (user.first_name, user.last_name) == ("", "")
    assert not user.has_usable_password()
    assert (user.is_active, user.is_staff, user.is_superuser) == (False, False, False)
    assert user.erased_at is not None and user.last_login is None
    assert list(user.groups.all()) == []
    assert LogEntry.objects.get().object_repr == user.email
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert [token.revoked_at is not None for token in user.refresh_tokens.all()] == [True, True]
    for pair in (one, two):
        assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
        assert_error(
            api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}),
            401,
            "token_not_valid",
        )
    assert outbox("user.erased") == [{"user_id": str(user.id)}]


def test_an_erased_account_cannot_sign_in_and_its_email_is_free_again(api):
    UserFactory(email="kim@example.com")
    api.delete(ME, {"password": PASSWORD}, token=api.sign_in("kim@example.com", PASSWORD)["access"])

    signed_in = api.post("/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD})
    assert_error(signed_in, 401, "invalid_credentials")
    response = api.post(
        "/api/v1/auth/register/", {"email": "kim@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert User.objects.count() == 2


def test_erasure_is_for_account_holders_only(api):
    mint = TokenMint().install()
    response = api.delete(
        ME, {"password": PASSWORD}, token=mint.token(client_id="order_service", scopes=["a:b"])
    )
    assert_error(response, 403, "permission_denied")
    assert_error(api.delete(ME, {"password": PASSWORD}), 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"password": ["This field is required."]}),
        ({"password": "Wrong-Password-1"}, {"password": ["The current password is not correct."]}),
    ],
    ids=["no-password", "wrong-password"],
)
def test_erasure_asks_for_the_password_again(api, outbox, body, details):
    """A bearer token alone (stolen, or a device left signed in) cannot erase the account."""
    user = UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]

    response = api.delete(ME, body, token=access)

    assert assert_error(response, 400, "validation_error")["error"]["details"] == details
    user.refresh_from_db()
    assert (user.email, user.is_active, user.erased_at) == ("kim@example.com", True, None)
    assert outbox("user.erased") == []
    assert api.get(ME, token=access).status_code == 200


def test_wrong_erasure_passwords_count_like_failed_sign_ins(api, settings):
    settings.LOGIN_GUARD = {"ACCOUNT_FAILURES": 3}
    UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]
    for _ in range(3):
        api.delete(ME, {"password": "Wrong-Password-1"}, token=access)

    assert_error(api.delete(ME, {"password": PASSWORD}, token=access), 429, "throttled")
    signed_in = api.post("/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD})
    assert_error(signed_in, 429, "throttled")
