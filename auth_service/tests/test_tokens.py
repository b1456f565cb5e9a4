"""Sign-in, refresh rotation and logout with tokens auth_service really issued."""

import json
import re

import jwt
import pytest
from accounts.models import User
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core import serializers
from django.db import connection
from django.test import Client
from django.urls import reverse

from platform_tools.testing.api import at_once
from platform_tools.testing.backing import skip_unless
from platform_tools.testing.contract import assert_error

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN, REFRESH, LOGOUT, ME = (
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/logout/",
    "/api/v1/auth/me/",
)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_sign_in_issues_rs256_tokens_with_the_contract_claims(api, signing_key):
    user = StaffFactory(email="kim@example.com", roles=["support"])

    pair = api.sign_in("Kim@Example.com", PASSWORD)

    header = jwt.get_unverified_header(pair["access"])
    assert (header["alg"], header["kid"]) == ("RS256", signing_key)
    access, refresh = claims_of(pair["access"]), claims_of(pair["refresh"])
    assert {key: access[key] for key in ("iss", "aud", "user_id", "email", "is_staff")} == {
        "iss": "platform-auth",
        "aud": "platform",
        "user_id": str(user.id),
        "email": "kim@example.com",
        "is_staff": True,
    }
    assert access["roles"] == ["support"]
    assert (access["token_type"], refresh["token_type"]) == ("access", "refresh")
    assert 299 < access["exp"] - access["iat"] <= 300  # iat keeps its fraction, exp does not
    assert isinstance(access["iat"], float)
    assert access["jti"] != refresh["jti"]
    assert api.get(ME, token=pair["access"]).json()["email"] == "kim@example.com"


def test_refresh_rotates_and_a_used_refresh_token_is_refused(api):
    UserFactory(email="kim@example.com")
    first = api.sign_in("kim@example.com", PASSWORD)

    response = api.post(REFRESH, {"refresh": first["refresh"]})
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert api.get(ME, token=second["access"]).status_code == 200

    reused = api.post(REFRESH, {"refresh": first["refresh"]})
    assert_error(reused, 401, "token_not_valid")
    assert reused["WWW-Authenticate"].startswith("Bearer")


def test_a_reused_refresh_token_ends_its_whole_sign_in(api):
    """RFC 9700: a refresh token used twice was copied (or raced); which use was the owner's
    cannot be told, so every token descended from that sign-in stops working."""
    UserFactory(email="kim@example.com")
    first = api.sign_in("kim@example.com", PASSWORD)
    other = api.sign_in("kim@example.com", PASSWORD)  # another device: another sign-in
    second = api.post(REFRESH, {"refresh": first["refresh"]}).json()
    third = api.post(REFRESH, {"refresh": second["refresh"]}).json()

    assert_error(api.post(REFRESH, {"refresh": first["refresh"]}), 401, "token_not_valid")

    assert_error(api.post(REFRESH, {"refresh": third["refresh"]}), 401, "token_not_valid")
    for pair in (first, second, third):
        body = assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
        assert body["error"]["details"] == {"reason": "revoked"}
    assert api.get(ME, token=other["access"]).status_code == 200
    assert api.post(REFRESH, {"refresh": other["refresh"]}).status_code == 200


def _post(path: str, body: dict, **extra):
    """A request from a thread of its own (the test client is not shared between threads)."""
    response = Client().post(path, data=json.dumps(body), content_type="application/json", **extra)
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_refreshes_of_one_token_rotate_it_once_and_end_the_sign_in(api):
    skip_unless(connection.vendor == "postgresql", "threads with their own connections: PostgreSQL")
    UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)

    answers = at_once(lambda _: _post(REFRESH, {"refresh": pair["refresh"]}), range(8))

    assert sorted(status for status, _ in answers) == [200] + [401] * 7
    assert {body["error"]["code"] for status, body in answers if status == 401} == {
        "token_not_valid"
    }
    # The race is a reuse: the sign-in ended, the winner's new pair with it.
    (won,) = [body for status, body in answers if status == 200]
    assert_error(api.post(REFRESH, {"refresh": won["refresh"]}), 401, "token_not_valid")
    for access in (pair["access"], won["access"]):
        body = assert_error(api.get(ME, token=access), 401, "token_not_valid")
        assert body["error"]["details"] == {"reason": "revoked"}


JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def test_no_table_keeps_a_token(api):
    """A token table keeps the ``jti``, never the token: a row read (admin, backup, a support
    member's view permission) must not be a usable credential."""
    UserFactory(email="kim@example.com")
    first = api.sign_in("kim@example.com", PASSWORD)
    second = api.post(REFRESH, {"refresh": first["refresh"]}).json()
    signatures = {token.rsplit(".", 1)[1] for pair in (first, second) for token in pair.values()}

    for model in apps.get_models():
        rows = serializers.serialize("json", model._default_manager.all())
        assert not [s for s in signatures if s in rows], model._meta.label
        assert JWT.search(rows) is None, model._meta.label


def test_no_admin_page_shows_a_token(api, client):
    """Every registered model's list and change pages, as a superuser (who sees the most)."""
    UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)
    api.post(REFRESH, {"refresh": pair["refresh"]})
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))

    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages = [reverse(f"{name}_changelist")] + [
            reverse(f"{name}_change", args=[obj.pk]) for obj in model._default_manager.all()
        ]
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            assert JWT.search(response.content.decode()) is None, page
    # SimpleJWT's blacklist, which showed whole refresh tokens, is not there at all.
    assert client.get("/admin/token_blacklist/outstandingtoken/").status_code == 404


@pytest.mark.parametrize("refresh", ["not-a-token", "a.b.c"], ids=["garbage", "malformed-jwt"])
def test_a_bad_refresh_token_is_refused(api, refresh):
    assert_error(api.post(REFRESH, {"refresh": refresh}), 401, "token_not_valid")


def test_an_access_token_is_no_refresh_token(api):
    UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)
    assert_error(api.post(REFRESH, {"refresh": pair["access"]}), 401, "token_not_valid")


def test_logout_ends_the_access_and_the_refresh_token(api):
    UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)
    other = api.sign_in("kim@example.com", PASSWORD)  # another device

    response = api.post(LOGOUT, {"refresh": pair["refresh"]}, token=pair["access"])

    assert response.status_code == 204
    body = assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
    assert body["error"]["details"] == {"reason": "revoked"}
    assert_error(api.post(REFRESH, {"refresh": pair["refresh"]}), 401, "token_not_valid")
    assert api.get(ME, token=other["access"]).status_code == 200  # that device stays


def test_logout_needs_the_access_token(api):
    UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)
    response = api.post(LOGOUT, {"refresh": pair["refresh"]})
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_logout_refuses_someone_elses_refresh_token(api):
    UserFactory(email="kim@example.com")
    UserFactory(email="lee@example.com")
    kim = api.sign_in("kim@example.com", PASSWORD)
    lee = api.sign_in("lee@example.com", PASSWORD)

    assert_error(
        api.post(LOGOUT, {"refresh": lee["refresh"]}, token=kim["access"]), 401, "token_not_valid"
    )
    assert api.post(REFRESH, {"refresh": lee["refresh"]}).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(api):
    UserFactory(email="kim@example.com")

    wrong = api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
    unknown = api.post(TOKEN, {"email": "nobody@example.com", "password": "Wrong-Password-1"})

    for response in (wrong, unknown):
        body = assert_error(response, 401, "invalid_credentials")
        assert body["error"]["message"] == "No active account with these credentials."
    assert wrong.json() == unknown.json()


def test_a_deactivated_account_cannot_sign_in(api):
    UserFactory(email="kim@example.com", is_active=False)
    response = api.post(TOKEN, {"email": "kim@example.com", "password": PASSWORD})
    assert_error(response, 401, "invalid_credentials")


def test_five_failures_lock_the_account_even_for_the_right_password(api):
    UserFactory(email="kim@example.com")
    for _ in range(5):
        response = api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
        assert_error(response, 401, "invalid_credentials")

    locked = api.post(TOKEN, {"email": "KIM@example.com", "password": PASSWORD})

    body = assert_error(locked, 429, "throttled")
    assert locked["Retry-After"] == "900"
    assert body["error"]["details"] == {"retry_after": 900}
    # Other accounts are not locked by it.
    UserFactory(email="lee@example.com")
    assert api.post(TOKEN, {"email": "lee@example.com", "password": PASSWORD}).status_code == 200


def test_a_success_before_the_limit_starts_the_count_again(api):
    UserFactory(email="kim@example.com")
    for _ in range(4):
        api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
    api.sign_in("kim@example.com", PASSWORD)
    for _ in range(4):
        api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
    assert api.post(TOKEN, {"email": "kim@example.com", "password": PASSWORD}).status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_wrong_passwords_try_at_most_the_limit():
    """Counted before the password is tried: 30 guesses at once against a limit of 5 try 5."""
    skip_unless(connection.vendor == "postgresql", "threads with their own connections: PostgreSQL")
    skip_unless("redis" in settings.CACHES["default"]["BACKEND"], "atomic counters: Redis")
    UserFactory(email="kim@example.com")

    answers = at_once(
        lambda n: _post(TOKEN, {"email": "kim@example.com", "password": f"Wrong-{n}"}), range(30)
    )

    statuses = [status for status, _ in answers]
    assert (statuses.count(401), statuses.count(429)) == (5, 25)
    status, body = _post(TOKEN, {"email": "kim@example.com", "password": PASSWORD})
    assert (status, body["error"]["code"]) == (429, "throttled")


def test_refused_attempts_are_not_counted_against_the_address(api, settings):
    """A locked account's refusals try no password: the address's count is of guesses."""
    settings.LOGIN_GUARD = {"ACCOUNT_FAILURES": 2, "ADDRESS_FAILURES": 4}
    UserFactory(email="kim@example.com")
    UserFactory(email="lee@example.com")
    for _ in range(2):
        api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
    for _ in range(5):
        locked = api.post(TOKEN, {"email": "kim@example.com", "password": "Wrong-Password-1"})
        assert_error(locked, 429, "throttled")

    assert api.post(TOKEN, {"email": "lee@example.com", "password": PASSWORD}).status_code == 200


def test_successful_sign_ins_are_not_counted_against_the_address(api, settings):
    settings.LOGIN_GUARD = {"ADDRESS_FAILURES": 3}
    UserFactory(email="kim@example.com")
    for _ in range(5):
        api.sign_in("kim@example.com", PASSWORD)


def test_refresh_reads_the_account_afresh(api):
    user = StaffFactory(email="kim@example.com", roles=["support"])
    pair = api.sign_in("kim@example.com", PASSWORD)
    user.groups.clear()
    User.objects.filter(pk=user.pk).update(is_staff=False)

    access = api.post(REFRESH, {"refresh": pair["refresh"]}).json()["access"]

    assert (claims_of(access)["roles"], claims_of(access)["is_staff"]) == (["customer"], False)


def test_the_address_guard_counts_the_client_the_gateway_saw_not_the_gateway(api, settings):
    """Every request reaches auth_service from the gateway: the address guard must count the
    address the gateway appended to ``X-Forwarded-For``, or one attacker locks everyone out."""
    settings.LOGIN_GUARD = {"ADDRESS_FAILURES": 3}
    UserFactory(email="kim@example.com")
    attacker = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    for n in range(3):
        # whatever the attacker claims first, the gateway's own entry comes last
        spoofed = {**attacker, "HTTP_X_FORWARDED_FOR": f"198.51.100.{n}, 203.0.113.7"}
        response = api.post(TOKEN, {"email": f"x{n}@example.com", "password": "Bad-1"}, **spoofed)
        assert_error(response, 401, "invalid_credentials")

    assert_error(
        api.post(TOKEN, {"email": "kim@example.com", "password": PASSWORD}, **attacker),
        429,
        "throttled",
    )
    customer = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "192.0.2.44"}
    signed_in = api.post(TOKEN, {"email": "kim@example.com", "password": PASSWORD}, **customer)
    assert signed_in.status_code == 200


def test_the_retention_purge_drops_expired_refresh_token_records_only(api):
    """Every sign-in and refresh leaves a record; once its token has expired the record can go
    (the token's own ``exp`` refuses it first). The hourly purge takes them."""
    from datetime import timedelta

    from accounts.models import IssuedRefreshToken
    from django.utils import timezone

    from service_kit.retention import purge

    UserFactory(email="kim@example.com")
    for _ in range(3):
        api.sign_in("kim@example.com", PASSWORD)
    live = IssuedRefreshToken.objects.order_by("issued_at").last()
    IssuedRefreshToken.objects.exclude(pk=live.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    removed = purge()

    assert removed["refresh_tokens"] == 2
    assert list(IssuedRefreshToken.objects.values_list("pk", flat=True)) == [live.pk]
