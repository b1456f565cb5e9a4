"""Identity end to end on real processes, PostgreSQL, RabbitMQ and Redis: auth_service issues,
user_service verifies on its own and builds the profile from auth's events."""

from __future__ import annotations

import pytest
from platform_helpers import (
    AUTH,
    PASSWORD,
    USER,
)

from platform_tools.testing import backing
from platform_tools.testing.client import call, post_json
from platform_tools.testing.processes import Harness, wait_for


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("identity"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        harness.start_worker(AUTH, JWT_AUTO_KEY="1")
        jwks = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json", "AUTH_SERVICE_URL": auth.url}
        user = harness.start_web(USER, **jwks)
        harness.start_worker(USER, **jwks)
        yield harness, auth, user
    finally:
        harness.cleanup()


def sign_in(auth, email: str) -> dict:
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200, pair
    return pair


def register_and_sign_in(auth, email: str) -> tuple[str, dict]:
    status, _, created = post_json(
        f"{auth.url}/api/v1/auth/register/",
        {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert status == 201, created
    return created["id"], sign_in(auth, email)


def test_register_profile_refresh_logout(platform):
    _, auth, user = platform
    user_id, pair = register_and_sign_in(auth, "ada@example.com")

    # the profile is made by user.registered, through the broker and user_service's worker
    status, me = wait_for(
        lambda: (r := call("GET", f"{user.url}/api/v1/users/me/", pair["access"]))[0] == 200 and r,
        timeout=30,
        what="the profile made from user.registered",
    )
    assert me["id"] == user_id
    assert (me["email"], me["first_name"], me["last_name"]) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
    )

    status, _, fresh = post_json(
        f"{auth.url}/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}
    )
    assert status == 200 and fresh["refresh"] != pair["refresh"]
    status, _, body = post_json(
        f"{auth.url}/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}
    )
    assert status == 401 and body["error"]["code"] == "token_not_valid"  # rotated: used once
    # ... and a used one presented again ends that sign-in everywhere (RFC 9700 reuse detection)
    for url in (f"{auth.url}/api/v1/auth/me/", f"{user.url}/api/v1/users/me/"):
        status, body = call("GET", url, fresh["access"])
        assert (status, body["error"]["details"]) == (401, {"reason": "revoked"}), url

    pair = sign_in(auth, "ada@example.com")
    status, _ = call(
        "POST", f"{auth.url}/api/v1/auth/logout/", pair["access"], {"refresh": pair["refresh"]}
    )
    assert status == 204

    status, body = call(
        "POST", f"{auth.url}/api/v1/auth/token/refresh/", None, {"refresh": pair["refresh"]}
    )
    assert status == 401 and body["error"]["code"] == "token_not_valid"
    for url in (f"{auth.url}/api/v1/auth/me/", f"{user.url}/api/v1/users/me/"):
        status, body = call("GET", url, pair["access"])
        assert status == 401, url
        assert body["error"] == {
            "code": "token_not_valid",
            "message": "The token has been revoked.",
            "details": {"reason": "revoked"},
        }
        status, body = call("GET", url, fresh["refresh"])  # a refresh token is no access token
        assert status == 401 and body["error"]["details"]["reason"] == "token_type"


def test_erasure_reaches_user_service_through_the_broker(platform):
    harness, auth, user = platform
    user_id, pair = register_and_sign_in(auth, "erase.me@example.com")
    wait_for(
        lambda: call("GET", f"{user.url}/api/v1/users/me/", pair["access"])[0] == 200,
        what="the profile",
    )
    status, _ = call(
        "DELETE", f"{auth.url}/api/v1/auth/me/", pair["access"], {"password": PASSWORD}
    )
    assert status == 204

    def profile():
        rows = harness.query(
            USER,
            "SELECT email, first_name, last_name, is_active "
            "FROM profiles_profile WHERE user_id = ?",
            (user_id,),
        )
        return rows[0] if rows else None

    email, first, last, _ = wait_for(
        lambda: (p := profile()) and not p[3] and p, what="the profile anonymised"
    )
    assert "erase.me" not in email and (first, last) == ("", "")
    assert call("GET", f"{user.url}/api/v1/users/me/", pair["access"])[0] == 401
    status, body = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": "erase.me@example.com", "password": PASSWORD}
    )[0:3:2]
    assert status == 401 and body["error"]["code"] == "invalid_credentials"
