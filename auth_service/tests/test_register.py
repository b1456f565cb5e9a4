import pytest
from accounts.models import User
from accounts.services import EMAIL_TAKEN

from platform_tools.testing.contract import assert_error

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register/"


def test_register_creates_a_lower_case_account_and_announces_it(api, outbox):
    response = api.post(
        URL,
        {
            "email": "  Ada.Lovelace@Example.COM ",
            "password": PASSWORD,
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
    )

    assert response.status_code == 201
    user = User.objects.get()
    assert response.json() == {"id": str(user.id), "email": "ada.lovelace@example.com"}
    assert (user.email, user.first_name, user.last_name) == (
        "ada.lovelace@example.com",
        "Ada",
        "Lovelace",
    )
    assert user.check_password(PASSWORD)
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)
    assert outbox("user.registered") == [
        {
            "user_id": str(user.id),
            "email": "ada.lovelace@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
        }
    ]


def test_names_are_optional(api, outbox):
    response = api.post(URL, {"email": "kim@example.com", "password": PASSWORD})

    assert response.status_code == 201
    user = User.objects.get(email="kim@example.com")
    assert (user.first_name, user.last_name) == ("", "")
    assert outbox("user.registered")[0]["first_name"] == ""


def test_the_new_account_can_sign_in(api):
    api.post(URL, {"email": "kim@example.com", "password": PASSWORD})
    pair = api.sign_in("KIM@example.com", PASSWORD)
    assert set(pair) == {"access", "refresh"}


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@Example.com"])
def test_a_taken_email_is_refused_whatever_its_case(api, outbox, email):
    UserFactory(email="taken@example.com")

    body = assert_error(
        api.post(URL, {"email": email, "password": PASSWORD}), 400, "validation_error"
    )

    assert body["error"]["details"] == {"email": [EMAIL_TAKEN]}
    assert User.objects.count() == 1
    assert outbox("user.registered") == []


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("Sh0rt!", ["This password is too short. It must contain at least 8 characters."]),
        ("8264019375", ["This password is entirely numeric."]),
        ("password123", ["This password is too common."]),
        ("margaret.hamilton", ["The password is too similar to the email."]),
    ],
    ids=["too-short", "numeric", "common", "like-the-email"],
)
def test_password_validators_apply(api, outbox, password, messages):
    response = api.post(URL, {"email": "margaret.hamilton@example.com", "password": password})

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"password": messages}
    assert not User.objects.exists()
    assert outbox("user.registered") == []


def test_a_taken_email_and_a_weak_password_are_both_reported(api):
    UserFactory(email="taken@example.com")
    body = assert_error(
        api.post(URL, {"email": "taken@example.com", "password": "Sh0rt!"}), 400, "validation_error"
    )
    assert body["error"]["details"] == {
        "email": [EMAIL_TAKEN],
        "password": ["This password is too short. It must contain at least 8 characters."],
    }


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        (
            {},
            {"email": ["This field is required."], "password": ["This field is required."]},
        ),
        (
            {"email": "not-an-email", "password": PASSWORD},
            {"email": ["Enter a valid email address."]},
        ),
        (
            {"email": "kim@example.com", "password": "x" * 257},
            {"password": ["Ensure this field has no more than 256 characters."]},
        ),
        (
            {"email": "kim@example.com", "password": PASSWORD, "first_name": "K" * 151},
            {"first_name": ["Ensure this field has no more than 150 characters."]},
        ),
        (
            {"email": "kim@example.com", "password": PASSWORD, "last_name": "a\x00b"},
            {"last_name": ["Null characters are not allowed."]},
        ),
        (
            {"email": "kim@example.com", "password": PASSWORD, "first_name": ["Kim"]},
            {"first_name": ["Not a valid string."]},
        ),
    ],
    ids=["missing", "bad-email", "long-password", "long-name", "null-character", "not-a-string"],
)
def test_bad_input_is_a_validation_error(api, payload, details):
    body = assert_error(api.post(URL, payload), 400, "validation_error")
    assert body["error"]["details"] == details
    assert not User.objects.exists()


def test_register_needs_no_token_even_a_stale_one(api):
    response = api.post(URL, {"email": "kim@example.com", "password": PASSWORD}, token="stale.jwt")
    assert response.status_code == 201


@pytest.mark.real_hasher
def test_passwords_are_hashed_with_argon2(api):
    api.post(URL, {"email": "kim@example.com", "password": PASSWORD})

    user = User.objects.get(email="kim@example.com")
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_privileges_cannot_be_registered(api):
    response = api.post(
        URL,
        {"email": "kim@example.com", "password": PASSWORD, "is_staff": True, "is_superuser": True},
    )
    assert response.status_code == 201
    user = User.objects.get()
    assert (user.is_staff, user.is_superuser) == (False, False)
