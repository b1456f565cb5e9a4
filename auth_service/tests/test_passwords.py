import re

import pytest
from accounts.models import User
from accounts.services import RESET_TOKEN_INVALID, WRONG_PASSWORD, password_reset_token
from accounts.views import PasswordResetApi

from platform_tools.testing.contract import assert_error

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = "/api/v1/auth/password/change/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "Another-Long-Passphrase-7"


def token_in(message) -> str:
    match = re.search(r"^([A-Za-z0-9_-]+\.[A-Za-z0-9-]+)$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


# -- change ------------------------------------------------------------------------------------


def test_change_sets_the_password_and_ends_every_session(api, next_second):
    user = UserFactory(email="kim@example.com")
    this = api.sign_in("kim@example.com", PASSWORD)
    other = api.sign_in("kim@example.com", PASSWORD)

    response = api.post(
        CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, token=this["access"]
    )

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    for pair in (this, other):  # this session too: the caller signs in again
        body = assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
        assert body["error"]["details"] == {"reason": "revoked"}
        refreshed = api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]})
        assert_error(refreshed, 401, "token_not_valid")
    next_second()
    old = api.post("/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD})
    assert_error(old, 401, "invalid_credentials")
    again = api.sign_in("kim@example.com", NEW_PASSWORD)
    assert api.get(ME, token=again["access"]).status_code == 200


def test_change_with_a_wrong_current_password_is_refused(api):
    user = UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]

    response = api.post(
        CHANGE, {"old_password": "Not-My-Password-1", "new_password": NEW_PASSWORD}, token=access
    )

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"old_password": [WRONG_PASSWORD]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert api.get(ME, token=access).status_code == 200  # nothing was revoked


@pytest.mark.parametrize(
    ("new_password", "messages"),
    [
        ("Sh0rt!", ["This password is too short. It must contain at least 8 characters."]),
        ("password123", ["This password is too common."]),
        ("kim.example", ["The password is too similar to the email."]),
    ],
    ids=["too-short", "common", "like-the-email"],
)
def test_change_applies_the_password_validators(api, new_password, messages):
    user = UserFactory(email="kim.example@example.com")
    access = api.sign_in("kim.example@example.com", PASSWORD)["access"]

    response = api.post(
        CHANGE, {"old_password": PASSWORD, "new_password": new_password}, token=access
    )

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"new_password": messages}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_change_needs_both_passwords(api):
    UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]
    body = assert_error(api.post(CHANGE, {}, token=access), 400, "validation_error")
    assert body["error"]["details"] == {
        "old_password": ["This field is required."],
        "new_password": ["This field is required."],
    }


def test_change_needs_a_token(api):
    response = api.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_guessing_the_current_password_locks_the_account(api):
    UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]
    wrong = {"old_password": "Not-My-Password-1", "new_password": NEW_PASSWORD}
    for _ in range(5):
        assert_error(api.post(CHANGE, wrong, token=access), 400, "validation_error")

    right = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = api.post(CHANGE, right, token=access)

    assert_error(response, 429, "throttled")
    assert response["Retry-After"] == "900"
    signed_in = api.post("/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD})
    assert_error(signed_in, 429, "throttled")


# -- reset -------------------------------------------------------------------------------------


def test_reset_mails_a_one_time_token(api, mailoutbox):
    user = UserFactory(email="kim@example.com")

    response = api.post(RESET, {"email": " KIM@example.com"})

    assert response.status_code == 202
    assert response.json() == {"detail": PasswordResetApi.ACCEPTED}
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert (message.subject, message.to, message.from_email) == (
        "Reset your password",
        ["kim@example.com"],
        "no-reply@localhost",
    )
    token = token_in(message)
    uidb64, key = token.split(".")
    assert token.startswith(password_reset_token(user).split(".")[0] + ".")
    assert uidb64 and key
    assert "within 60 minutes" in message.body


@pytest.mark.parametrize(
    "make_user",
    [
        lambda: None,
        lambda: UserFactory(email="kim@example.com", is_active=False),
        lambda: UserFactory(email="kim@example.com", password=None),
    ],
    ids=["unknown", "deactivated", "no-usable-password"],
)
def test_reset_answers_the_same_when_no_mail_goes_out(api, mailoutbox, make_user):
    make_user()
    known = UserFactory(email="lee@example.com")
    known_response = api.post(RESET, {"email": known.email})
    mailoutbox.clear()

    response = api.post(RESET, {"email": "kim@example.com"})

    assert (response.status_code, response.json()) == (
        known_response.status_code,
        known_response.json(),
    )
    assert mailoutbox == []


def test_reset_links_to_the_front_end_when_it_is_configured(api, mailoutbox, settings):
    settings.PASSWORD_RESET_URL = "https://shop.example/reset-password"
    UserFactory(email="kim@example.com")

    api.post(RESET, {"email": "kim@example.com"})

    link = re.search(
        r"^https://shop\.example/reset-password\?token=(\S+)$", mailoutbox[0].body, re.M
    )
    assert link, mailoutbox[0].body


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        ({}, {"email": ["This field is required."]}),
        ({"email": "nope"}, {"email": ["Enter a valid email address."]}),
    ],
    ids=["missing", "not-an-email"],
)
def test_reset_refuses_bad_input(api, mailoutbox, payload, details):
    body = assert_error(api.post(RESET, payload), 400, "validation_error")
    assert body["error"]["details"] == details


def test_reset_end_to_end(api, mailoutbox, next_second):
    UserFactory(email="kim@example.com")
    before = api.sign_in("kim@example.com", PASSWORD)
    api.post(RESET, {"email": "kim@example.com"})
    token = token_in(mailoutbox[0])

    response = api.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert_error(api.get(ME, token=before["access"]), 401, "token_not_valid")
    refreshed = api.post("/api/v1/auth/token/refresh/", {"refresh": before["refresh"]})
    assert_error(refreshed, 401, "token_not_valid")
    next_second()
    old = api.post("/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD})
    assert_error(old, 401, "invalid_credentials")
    after = api.sign_in("kim@example.com", NEW_PASSWORD)
    assert api.get(ME, token=after["access"]).status_code == 200
    # Used once: the token died with the password it replaced.
    again = api.post(CONFIRM, {"token": token, "new_password": "Yet-Another-Passphrase-3"})
    body = assert_error(again, 400, "validation_error")
    assert body["error"]["details"] == {"token": [RESET_TOKEN_INVALID]}
    assert User.objects.get().check_password(NEW_PASSWORD)


def test_a_reset_lifts_the_sign_in_lockout(api, mailoutbox):
    UserFactory(email="kim@example.com")
    for _ in range(5):
        api.post(
            "/api/v1/auth/token/", {"email": "kim@example.com", "password": "Wrong-1-Password"}
        )
    api.post(RESET, {"email": "kim@example.com"})

    api.post(CONFIRM, {"token": token_in(mailoutbox[0]), "new_password": NEW_PASSWORD})

    api.sign_in("kim@example.com", NEW_PASSWORD)


def bad_tokens():
    return {
        "garbage": lambda user: "garbage",
        "no-key": lambda user: password_reset_token(user).split(".")[0] + ".",
        "wrong-key": lambda user: (
            password_reset_token(user).split(".")[0] + ".cx6d-0123456789abcdef"
        ),
        "not-base64": lambda user: "%%%." + password_reset_token(user).split(".")[1],
        "not-a-uuid": lambda user: "bm90LWEtdXVpZA." + password_reset_token(user).split(".")[1],
        "another-users": lambda user: (
            password_reset_token(UserFactory()).split(".")[0]
            + "."
            + password_reset_token(user).split(".")[1]
        ),
    }


@pytest.mark.parametrize("case", list(bad_tokens()))
def test_a_bad_token_is_refused(api, case):
    user = UserFactory(email="kim@example.com")
    token = bad_tokens()[case](user)

    response = api.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"token": [RESET_TOKEN_INVALID]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_an_expired_token_is_refused(api, settings):
    user = UserFactory(email="kim@example.com")
    token = password_reset_token(user)
    settings.PASSWORD_RESET_TIMEOUT = -1

    body = assert_error(
        api.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}), 400, "validation_error"
    )
    assert body["error"]["details"] == {"token": [RESET_TOKEN_INVALID]}


def test_a_deactivated_account_cannot_use_its_token(api):
    user = UserFactory(email="kim@example.com")
    token = password_reset_token(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD})

    assert_error(response, 400, "validation_error")


def test_a_weak_new_password_keeps_the_token_good(api):
    user = UserFactory(email="kim@example.com")
    token = password_reset_token(user)

    weak = api.post(CONFIRM, {"token": token, "new_password": "Sh0rt!"})

    body = assert_error(weak, 400, "validation_error")
    assert body["error"]["details"] == {
        "new_password": ["This password is too short. It must contain at least 8 characters."]
    }
    assert api.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}).status_code == 204


def test_confirm_needs_both_fields(api):
    body = assert_error(api.post(CONFIRM, {}), 400, "validation_error")
    assert body["error"]["details"] == {
        "token": ["This field is required."],
        "new_password": ["This field is required."],
    }
