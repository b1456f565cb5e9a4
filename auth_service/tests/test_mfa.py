"""The second factor: TOTP codes at sign-in, the ``amr`` claim, and auth_service's own admin."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django_otp.oath import hotp
from mfa.services import totp_device_create

from platform_tools.testing.contract import assert_error
from service_kit.admin_sso import SESSION_KEY
from service_kit.auth import verify_token

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN, REFRESH = "/api/v1/auth/token/", "/api/v1/auth/token/refresh/"


def code(device, steps_ahead: int = 0) -> str:
    """The device's code for the current time step (or one ahead, which it also accepts)."""
    return f"{hotp(device.bin_key, int(time.time()) // device.step + steps_ahead):06d}"


def sign_in(api, email: str, **body):
    return api.post(TOKEN, {"email": email, "password": PASSWORD, **body})


@pytest.fixture
def manager():
    user = StaffFactory(email="pay@example.com", roles=["payment_manager"])
    return user, totp_device_create(user=user)


def test_a_password_alone_signs_in_with_amr_pwd(api, manager):
    pair = sign_in(api, "pay@example.com").json()
    assert verify_token(pair["access"])["amr"] == ["pwd"]
    assert verify_token(pair["refresh"], token_type="refresh")["amr"] == ["pwd"]


@pytest.mark.parametrize("otp", ["", "   "])
def test_a_blank_code_is_no_code(api, manager, otp):
    response = sign_in(api, "pay@example.com", otp=otp)
    assert response.status_code == 200
    assert verify_token(response.json()["access"])["amr"] == ["pwd"]


def test_a_valid_code_adds_otp_to_amr(api, manager):
    _, device = manager
    pair = sign_in(api, "pay@example.com", otp=code(device)).json()
    access = verify_token(pair["access"])
    assert access["amr"] == ["pwd", "otp"]
    assert access["roles"] == ["payment_manager"]
    assert verify_token(pair["refresh"], token_type="refresh")["amr"] == ["pwd", "otp"]


@pytest.mark.parametrize("otp", ["000000", "12345", "not-a-code", "1234567890123456"])
def test_a_wrong_code_is_answered_like_a_wrong_password(api, manager, otp):
    wrong_code = sign_in(api, "pay@example.com", otp=otp)
    wrong_password = api.post(TOKEN, {"email": "pay@example.com", "password": "nope"})
    assert_error(wrong_code, 401, "invalid_credentials")
    assert wrong_code.json() == wrong_password.json()


def test_a_code_without_a_device_is_refused(api):
    UserFactory(email="kim@example.com")
    assert_error(sign_in(api, "kim@example.com", otp="123456"), 401, "invalid_credentials")


def test_an_unconfirmed_device_does_not_count(api, manager):
    _, device = manager
    device.confirmed = False
    device.save()
    assert_error(sign_in(api, "pay@example.com", otp=code(device)), 401, "invalid_credentials")


def test_a_code_is_good_once(api, manager):
    _, device = manager
    used = code(device)
    assert sign_in(api, "pay@example.com", otp=used).status_code == 200
    assert_error(sign_in(api, "pay@example.com", otp=used), 401, "invalid_credentials")


def test_a_wrong_password_with_a_valid_code_is_refused(api, manager):
    _, device = manager
    response = api.post(
        TOKEN, {"email": "pay@example.com", "password": "nope", "otp": code(device)}
    )
    assert_error(response, 401, "invalid_credentials")
    device.refresh_from_db()
    assert device.last_t == -1  # the code was not even tried: it is still good


def test_wrong_codes_count_as_failed_sign_ins(api, manager, settings):
    settings.LOGIN_GUARD = {"ACCOUNT_FAILURES": 3}
    _, device = manager
    for _ in range(3):
        assert_error(sign_in(api, "pay@example.com", otp="000000"), 401, "invalid_credentials")
    locked = sign_in(api, "pay@example.com", otp=code(device))
    assert_error(locked, 429, "throttled")
    assert int(locked["Retry-After"]) > 0


@pytest.mark.parametrize("with_code", [True, False])
def test_a_refresh_keeps_how_the_person_signed_in(api, manager, with_code):
    _, device = manager
    first = sign_in(api, "pay@example.com", **({"otp": code(device)} if with_code else {}))
    expected = ["pwd", "otp"] if with_code else ["pwd"]

    second = api.post(REFRESH, {"refresh": first.json()["refresh"]}).json()
    third = api.post(REFRESH, {"refresh": second["refresh"]}).json()

    assert verify_token(third["access"])["amr"] == expected
    assert verify_token(third["refresh"], token_type="refresh")["amr"] == expected


def test_totp_device_prints_the_uri_and_resets_on_request(capsys):
    user = StaffFactory(email="pay@example.com", roles=["payment_manager"])

    call_command("totp_device", "Pay@Example.com")
    first = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("totp_device", "pay@example.com")
    again = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("totp_device", "pay@example.com", "--reset")
    reset = capsys.readouterr().out.strip().splitlines()[-1]

    assert re.fullmatch(
        r"otpauth://totp/Commerce%20platform%3Apay%40example\.com\?secret=[A-Z2-7]{32}"
        r"&algorithm=SHA1&digits=6&period=30&issuer=Commerce%20platform",
        first,
    )
    assert again == first and reset != first
    assert list(user.totpdevice_set.values_list("confirmed", flat=True)) == [True]


def test_totp_device_for_an_unknown_email_fails():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account"):
        call_command("totp_device", "nobody@example.com")


# -- auth_service's own admin: the kit's sign-in form, checked in process ----------------------


def admin_sign_in(client, email: str, otp: str = ""):
    return client.post(
        "/admin/login/?next=/admin/", {"email": email, "password": PASSWORD, "otp": otp}
    )


def test_the_admin_needs_a_code_from_a_payment_manager(client, manager):
    user, device = manager
    refused = admin_sign_in(client, "pay@example.com")
    assert refused.status_code == 200
    assert "needs a second factor" in refused.content.decode()
    assert client.get("/admin/").status_code == 302

    response = admin_sign_in(client, "pay@example.com", otp=code(device))
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    state = client.session[SESSION_KEY]
    assert (state["user_id"], state["amr"]) == (str(user.pk), ["otp", "pwd"])
    assert client.session["_auth_user_id"] == str(user.pk)  # the real user, no shadow
    assert client.get("/admin/").status_code == 200


def test_the_admin_refuses_customers_and_lets_other_staff_in_with_a_password(client):
    UserFactory(email="kim@example.com")
    StaffFactory(email="cat@example.com", roles=["catalogue_manager"])

    refused = admin_sign_in(client, "kim@example.com")
    assert refused.status_code == 200 and "correct email address" in refused.content.decode()
    assert admin_sign_in(client, "cat@example.com").status_code == 302


def test_a_deactivated_staff_member_is_out_of_the_admin_at_once(client):
    from accounts.services import user_deactivate

    user = StaffFactory(email="cat@example.com", roles=["support"])
    assert admin_sign_in(client, "cat@example.com").status_code == 302
    assert client.get("/admin/").status_code == 200

    user_deactivate(user=user)

    assert client.get("/admin/").status_code == 302


def test_support_sees_accounts_but_never_second_factor_secrets(client):
    StaffFactory(email="help@example.com", roles=["support"])
    assert admin_sign_in(client, "help@example.com").status_code == 302

    support = Group.objects.get(name="support")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in support.permissions.all()}
    assert {"accounts.view_user", "keys.view_signingkey"} <= granted
    assert not [name for name in granted if not name.split(".")[1].startswith("view_")]
    assert not [name for name in granted if name.startswith("otp_totp.")]
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 403


def test_an_admin_gives_a_staff_member_a_device_in_the_admin(client):
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))
    user = StaffFactory(email="pay@example.com", roles=["payment_manager"])
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 200
    response = client.post(
        "/admin/otp_totp/totpdevice/add/",
        {
            "user": str(user.pk),
            "name": "phone",
            "confirmed": "on",
            "key": "3132333435363738393031323334353637383930",
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "throttling_failure_count": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    (device,) = user.totpdevice_set.all()
    assert (device.name, device.confirmed, device.bin_key) == (
        "phone",
        True,
        b"12345678901234567890",
    )
