import re
import time

import jwt
import pytest
from accounts.models import ServiceClient
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from platform_tools.testing.contract import assert_error
from service_kit.auth import TokenInvalid, token_user, verify_token

from .factories import CLIENT_SECRET, ServiceClientFactory, StaffFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/service-token/"


def test_a_client_gets_a_short_lived_token_with_its_scopes(api, signing_key):
    ServiceClientFactory(client_id="order_service", scopes=["inventory:reserve", "payments:charge"])

    response = api.post(URL, {"client_id": "order_service", "client_secret": CLIENT_SECRET})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access", "expires_in"}
    assert body["expires_in"] == 300
    assert jwt.get_unverified_header(body["access"])["kid"] == signing_key
    claims = verify_token(body["access"])  # what every service does with it
    assert set(claims) == {"iss", "aud", "jti", "iat", "exp", "token_type", "client_id", "scopes"}
    assert {key: claims[key] for key in ("iss", "aud", "token_type", "client_id", "scopes")} == {
        "iss": "platform-auth",
        "aud": "platform",
        "token_type": "access",
        "client_id": "order_service",
        "scopes": ["inventory:reserve", "payments:charge"],
    }
    assert 299 < claims["exp"] - claims["iat"] <= 300  # iat keeps its fraction, exp does not
    assert abs(claims["iat"] - time.time()) < 5
    caller = token_user(claims)
    assert (caller.is_service, caller.id, caller.scopes) == (
        True,
        None,
        frozenset({"inventory:reserve", "payments:charge"}),
    )


def test_the_lifetime_comes_from_the_settings(api, settings):
    settings.JWT = {**settings.JWT, "SERVICE_TOKEN_LIFETIME": 60}
    ServiceClientFactory(client_id="order_service")

    body = api.post(URL, {"client_id": "order_service", "client_secret": CLIENT_SECRET}).json()

    claims = jwt.decode(body["access"], options={"verify_signature": False})
    assert body["expires_in"] == 60
    assert 59 < claims["exp"] - claims["iat"] <= 60


def test_each_token_has_its_own_jti(api):
    ServiceClientFactory(client_id="order_service")
    tokens = [
        api.post(URL, {"client_id": "order_service", "client_secret": CLIENT_SECRET}).json()
        for _ in range(2)
    ]
    jtis = {jwt.decode(t["access"], options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 2


def test_a_service_token_is_no_user(api):
    ServiceClientFactory(client_id="order_service")
    access = api.post(URL, {"client_id": "order_service", "client_secret": CLIENT_SECRET}).json()
    response = api.get("/api/v1/auth/me/", token=access["access"])
    assert_error(response, 403, "permission_denied")


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("nobody", CLIENT_SECRET),
        ("order_service", "wrong-secret"),
        ("disabled_service", CLIENT_SECRET),
    ],
    ids=["unknown-client", "wrong-secret", "inactive-client"],
)
def test_bad_credentials_get_one_answer(api, client_id, secret):
    ServiceClientFactory(client_id="order_service")
    ServiceClientFactory(client_id="disabled_service", is_active=False)

    response = api.post(URL, {"client_id": client_id, "client_secret": secret})

    body = assert_error(response, 401, "invalid_client")
    assert body["error"] == {
        "code": "invalid_client",
        "message": "Unknown client or wrong secret.",
        "details": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        (
            {},
            {
                "client_id": ["This field is required."],
                "client_secret": ["This field is required."],
            },
        ),
        (
            {"client_id": "x" * 65, "client_secret": "s"},
            {"client_id": ["Ensure this field has no more than 64 characters."]},
        ),
    ],
    ids=["missing", "too-long"],
)
def test_bad_input_is_a_validation_error(api, payload, details):
    body = assert_error(api.post(URL, payload), 400, "validation_error")
    assert body["error"]["details"] == details


# -- create_service_client ---------------------------------------------------------------------


def test_the_command_prints_a_generated_secret_once(api, capsys):
    call_command(
        "create_service_client", "order_service", "--scopes", "payments:charge", "users:read"
    )

    secret = capsys.readouterr().out.strip()
    client = ServiceClient.objects.get(client_id="order_service")
    assert client.scopes == ["payments:charge", "users:read"]
    assert client.is_active
    assert secret not in client.secret_hash and check_password(secret, client.secret_hash)
    response = api.post(URL, {"client_id": "order_service", "client_secret": secret})
    assert response.status_code == 200


def test_the_command_sets_a_given_secret_and_is_repeatable(api, capsys):
    for scopes in (["payments:charge"], ["payments:charge", "payments:refund"]):
        call_command(
            "create_service_client", "order_service", "--secret", "from-ci", "--scopes", *scopes
        )

    assert "from-ci" not in capsys.readouterr().out
    client = ServiceClient.objects.get(client_id="order_service")
    assert client.scopes == ["payments:charge", "payments:refund"]
    assert (
        api.post(URL, {"client_id": "order_service", "client_secret": "from-ci"}).status_code == 200
    )


def test_the_command_reads_the_secret_from_a_file(api, capsys, tmp_path):
    path = tmp_path / "secret"
    path.write_text("from-a-file-0123456789\n")
    for _ in range(2):  # make up runs it at every start
        call_command("create_service_client", "gateway", "--secret-file", str(path))

    assert "from-a-file" not in capsys.readouterr().out
    answer = api.post(URL, {"client_id": "gateway", "client_secret": "from-a-file-0123456789"})
    assert answer.status_code == 200


def test_the_command_rerun_unchanged_changes_nothing(api, capsys, caplog, tmp_path):
    """The chart's hook runs it after every upgrade: with the same secret and scopes the client
    is left as it is (no new hash, no "secret set" in the log) and its live tokens keep working;
    a new scope list still takes."""
    path = tmp_path / "secret"
    path.write_text("from-the-chart-0123456789\n")
    args = ["create_service_client", "order", "--secret-file", str(path), "--scopes"]
    call_command(*args, "payments:read", "inventory:read")
    body = {"client_id": "order", "client_secret": "from-the-chart-0123456789"}
    live = api.post(URL, body).json()["access"]
    before = ServiceClient.objects.get(client_id="order")
    capsys.readouterr()
    caplog.clear()

    call_command(*args, "inventory:read", "payments:read")  # the same scopes, in another order

    assert capsys.readouterr().out.strip() == "unchanged order"
    after = ServiceClient.objects.get(client_id="order")
    assert after.secret_hash == before.secret_hash
    assert after.scopes == ["inventory:read", "payments:read"]
    assert "auth.service_client_secret_set" not in [r.getMessage() for r in caplog.records]
    assert verify_token(live)["client_id"] == "order"

    call_command(*args, "payments:read")
    assert capsys.readouterr().out.strip() == "updated order"
    assert ServiceClient.objects.get(client_id="order").scopes == ["payments:read"]
    with pytest.raises(TokenInvalid) as refused:  # it carried the old scopes, as the admin's
        verify_token(live)
    assert refused.value.reason == "revoked"
    assert verify_token(api.post(URL, body).json()["access"])["scopes"] == ["payments:read"]


def test_the_command_rerun_with_another_secret_sets_it(api, tmp_path):
    path = tmp_path / "secret"
    path.write_text("first-secret-0123456789")
    call_command("create_service_client", "order", "--secret-file", str(path))
    path.write_text("second-secret-0123456789")
    call_command("create_service_client", "order", "--secret-file", str(path))

    old = {"client_id": "order", "client_secret": "first-secret-0123456789"}
    assert_error(api.post(URL, old), 401, "invalid_client")
    new = {**old, "client_secret": "second-secret-0123456789"}
    assert api.post(URL, new).status_code == 200


def test_the_command_leaves_a_client_staff_switched_off_switched_off(api, tmp_path):
    path = tmp_path / "secret"
    path.write_text("leaked-secret-0123456789")
    call_command("create_service_client", "order", "--secret-file", str(path))
    ServiceClient.objects.filter(client_id="order").update(is_active=False)  # after a leak

    for secret in ("leaked-secret-0123456789", "new-secret-0123456789"):  # the next upgrades
        path.write_text(secret)
        call_command("create_service_client", "order", "--secret-file", str(path))

    assert not ServiceClient.objects.get(client_id="order").is_active
    for secret in ("leaked-secret-0123456789", "new-secret-0123456789"):
        refused = api.post(URL, {"client_id": "order", "client_secret": secret})
        assert refused.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["order_service"], "already exists"),
        (["order_service", "--secret-file", "/nonexistent/secret"], "Cannot read the secret file"),
        (["new_service", "--scopes", "Bad Scope"], "Not a valid scope: Bad Scope"),
        (["not a slug", "--secret", "s"], "valid “slug”"),
    ],
    ids=["exists-without-secret", "unreadable-secret-file", "bad-scope", "bad-client-id"],
)
def test_the_command_refuses(args, message):
    ServiceClientFactory(client_id="order_service")
    with pytest.raises(CommandError, match=message):
        call_command("create_service_client", *args)
    assert check_password(
        CLIENT_SECRET, ServiceClient.objects.get(client_id="order_service").secret_hash
    )


CLIENTS = "/admin/accounts/serviceclient/"


def _switch_off(client, service_client, how: str) -> None:
    pk = service_client.pk
    if how == "deactivated":
        form = {"scopes": "payments:charge", "description": ""}  # is_active unticked
        response = client.post(f"{CLIENTS}{pk}/change/", form)
    elif how == "deleted":
        response = client.post(f"{CLIENTS}{pk}/delete/", {"post": "yes"})
    else:
        response = client.post(
            CLIENTS, {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        )
    assert response.status_code == 302


@pytest.mark.parametrize("how", ["deactivated", "deleted", "deleted-in-bulk"])
def test_a_switched_off_clients_tokens_are_refused_at_once(api, client, how):
    """Every service verifies tokens itself: the shared revocation list names the client."""
    service_client = ServiceClientFactory(client_id="order_service")
    ServiceClientFactory(client_id="user_service")
    body = {"client_id": "order_service", "client_secret": CLIENT_SECRET}
    access = api.post(URL, body).json()["access"]
    other = api.post(URL, {**body, "client_id": "user_service"}).json()["access"]
    assert verify_token(access)["client_id"] == "order_service"
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))

    _switch_off(client, service_client, how)

    with pytest.raises(TokenInvalid) as refused:
        verify_token(access)
    assert refused.value.reason == "revoked"
    assert verify_token(other)["client_id"] == "user_service"
    assert_error(api.post(URL, body), 401, "invalid_client")


@pytest.mark.parametrize(
    "change",
    [
        {"action": "reset_secret"},
        {"scopes": "payments:read", "is_active": "on", "description": ""},
    ],
    ids=["secret-reset", "scopes-changed"],
)
def test_a_clients_tokens_end_when_its_secret_or_scopes_change(api, client, change):
    """A reset secret answers a leak; changed scopes must not live on in tokens carrying the
    old ones. The client signs in again (with its new secret) and gets working tokens."""
    service_client = ServiceClientFactory(client_id="order_service", scopes=["payments:charge"])
    body = {"client_id": "order_service", "client_secret": CLIENT_SECRET}
    old = api.post(URL, body).json()["access"]
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))

    if "action" in change:
        form = {**change, "_selected_action": [service_client.pk]}
        response = client.post(CLIENTS, form)
        assert response.status_code == 200
        secret = re.search(r"<code>([A-Za-z0-9_-]{43})</code>", response.content.decode())[1]
    else:
        response = client.post(f"{CLIENTS}{service_client.pk}/change/", change)
        assert response.status_code == 302
        secret = CLIENT_SECRET

    with pytest.raises(TokenInvalid) as refused:
        verify_token(old)
    assert refused.value.reason == "revoked"
    new = api.post(URL, {**body, "client_secret": secret}).json()["access"]
    assert verify_token(new)["scopes"] == ServiceClient.objects.get(pk=service_client.pk).scopes


def test_a_reactivated_client_gets_tokens_that_work(api, client):
    service_client = ServiceClientFactory(client_id="order_service")
    body = {"client_id": "order_service", "client_secret": CLIENT_SECRET}
    old = api.post(URL, body).json()["access"]
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))
    _switch_off(client, service_client, "deactivated")
    ServiceClient.objects.filter(pk=service_client.pk).update(is_active=True)

    new = api.post(URL, body).json()["access"]

    assert verify_token(new)["client_id"] == "order_service"
    with pytest.raises(TokenInvalid):
        verify_token(old)
