"""Key rotation on real processes: auth_service signs, another service verifies from the JWKS."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import jwt
from kit import kit_env, kit_service

from platform_tools.testing.client import post_json
from platform_tools.testing.processes import wait_for
from service_kit.platform import BY_NAME

AUTH = BY_NAME["auth"]
PASSWORD = "Correct-Horse-Battery-9"


def manage(harness, service, *args: str, **env: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", *args],
        cwd=service.path,
        env=harness.env_for(service, **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def whoami(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/api/v1/whoami/", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rotation_keeps_old_tokens_until_retirement(harness_factory):
    harness = harness_factory("real")
    auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
    manage(
        harness,
        AUTH,
        "shell",
        "-c",
        f"from accounts.models import User; User.objects.create_user('kim@example.com', "
        f"'{PASSWORD}')",
    )
    notes = harness.start_web(
        kit_service("notes"),
        **kit_env("notes", "", JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json"),
    )

    def sign_in() -> str:
        status, _, body = post_json(
            f"{auth.url}/api/v1/auth/token/", {"email": "kim@example.com", "password": PASSWORD}
        )
        assert status == 200, body
        return body["access"]

    old = sign_in()
    old_kid = jwt.get_unverified_header(old)["kid"]
    assert whoami(notes.url, old)[0] == 200

    new_kid = manage(harness, AUTH, "rotate_signing_key", JWT_AUTO_KEY="1")
    assert new_kid and new_kid != old_kid
    # auth's web process reads its signing key again within seconds: no restart.
    new = wait_for(
        lambda: (t := sign_in()) and jwt.get_unverified_header(t)["kid"] == new_kid and t,
        timeout=15,
        what="tokens signed with the new key",
    )
    status, me = whoami(notes.url, new)
    assert status == 200 and me["email"] == "kim@example.com"
    assert whoami(notes.url, old)[0] == 200  # the old key still verifies what it signed

    manage(harness, AUTH, "retire_signing_key", old_kid)
    status, body = whoami(notes.url, old)
    assert status == 401
    assert body["error"]["code"] == "token_not_valid"
    assert body["error"]["details"] == {"reason": "unknown_key"}
    assert whoami(notes.url, new)[0] == 200
    jwks = json.loads(urllib.request.urlopen(f"{auth.url}/.well-known/jwks.json").read())
    assert [key["kid"] for key in jwks["keys"]] == [new_kid]
