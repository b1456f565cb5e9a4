"""Staff sign in to every admin with their one auth_service identity (service_kit.admin_sso).

In process, on the kit's test project: the role → permission mapping, shadow users, who may
enter, and the session ending once auth_service revokes the person. On real processes:
auth_service and product_service, signed in to with a browser's requests (CSRF cookie, form),
a TOTP device's codes, and a deactivation in auth_service ending the product admin's session.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.checks import run_checks
from django_otp.oath import hotp

from platform_tools.testing.processes import wait_for
from service_kit.admin_sso import (
    SESSION_KEY,
    Identity,
    SignInRefused,
    admit,
    idle_timeout,
    permission_granted,
    revocation_lifetime,
    role_groups_sync,
    role_permissions,
    shadow_user_sync,
)
from service_kit.admin_sso.sessions import sign_in_record
from service_kit.auth import revoke_user
from service_kit.platform import BY_NAME

User = get_user_model()

PASSWORD = "Correct-Horse-Battery-9"
NOTES_PERMISSIONS = {
    f"notes.{verb}_{model}"
    for verb in ("add", "change", "delete", "view")
    for model in ("note", "noteseen", "switch")
}


def identity(*roles: str, email: str = "kim@example.com", amr=("pwd",), **fields) -> Identity:
    values = {
        "user_id": str(uuid.uuid4()),
        "email": email,
        "is_staff": "customer" not in roles,
        "roles": frozenset(roles),
        "amr": frozenset(amr),
        "jti": uuid.uuid4().hex,
        "issued_at": float(int(time.time())),
    }
    return Identity(**{**values, **fields})


def names(permissions) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


# -- role → permissions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "patterns", "granted"),
    [
        ("catalogue.change_product", ["catalogue.*"], True),
        ("stock.change_stockitem", ["catalogue.*"], False),
        ("catalogue.view_product", ["*.view_*"], True),
        ("catalogue.change_product", ["*.view_*"], False),
        ("otp_totp.view_totpdevice", ["*.view_*", "!otp_totp.*"], False),
        ("auth.view_user", ["*.view_*", "!otp_totp.*"], True),
        ("payments.add_refund", ["*"], True),
        ("payments.add_refund", [], False),
    ],
)
def test_a_permission_is_granted_by_a_pattern_and_taken_by_a_bang(name, patterns, granted):
    assert permission_granted(name, patterns) is granted


@pytest.mark.django_db
def test_each_role_holds_the_permissions_its_patterns_name(settings):
    settings.ADMIN_ROLE_PERMISSIONS = {
        "catalogue_manager": ["notes.*"],
        "support": ["*.view_*", "!service_kit.*", "!auth.*"],
    }
    assert names(role_permissions("catalogue_manager")) == NOTES_PERMISSIONS
    assert names(role_permissions("support")) == {
        "admin.view_logentry",
        "contenttypes.view_contenttype",
        "sessions.view_session",
        "notes.view_note",
        "notes.view_noteseen",
        "notes.view_switch",
    }
    assert role_permissions("order_manager") == []  # not named: nothing


@pytest.mark.django_db
def test_the_platform_mapping_gives_this_services_roles_only_its_own_models():
    # notes is not a platform app: the managers' patterns name nothing here.
    assert role_permissions("catalogue_manager") == []
    assert names(role_permissions("admin")) == names(Permission.objects.all())
    support = names(role_permissions("support"))
    assert support == {n for n in names(Permission.objects.all()) if ".view_" in n}
    assert "notes.view_note" in support and "notes.change_note" not in support


@pytest.mark.django_db
def test_role_groups_are_set_afresh_from_the_setting(settings):
    settings.ADMIN_ROLE_PERMISSIONS = {"support": ["notes.view_*"]}
    group = Group.objects.create(name="support")
    group.permissions.set(Permission.objects.filter(codename="delete_note"))
    (synced,) = role_groups_sync(["support"])
    assert synced == group
    assert names(group.permissions.all()) == {
        "notes.view_note",
        "notes.view_noteseen",
        "notes.view_switch",
    }


# -- shadow users ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_shadow_user_is_made_from_the_claims(settings):
    settings.ADMIN_ROLE_PERMISSIONS = {"catalogue_manager": ["notes.*"], "support": ["*.view_*"]}
    user = shadow_user_sync(identity("catalogue_manager", "support", email="kim@example.com"))
    user.refresh_from_db()
    assert (user.username, user.email) == ("kim@example.com", "kim@example.com")
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, False, True)
    assert not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {"catalogue_manager", "support"}
    assert user.get_all_permissions() == NOTES_PERMISSIONS | {
        n for n in names(Permission.objects.all()) if ".view_" in n
    }


@pytest.mark.django_db
def test_a_shadow_user_follows_the_claims_at_each_sign_in():
    first = shadow_user_sync(identity("catalogue_manager", "support"))
    password = first.password
    second = shadow_user_sync(identity("admin", amr=("pwd", "otp")))
    assert second.pk == first.pk and User.objects.count() == 1
    second.refresh_from_db()
    assert second.is_superuser and second.is_staff
    assert list(second.groups.values_list("name", flat=True)) == ["admin"]
    # Unchanged: the session hash derives from it, other browsers stay signed in.
    assert second.password == password


@pytest.mark.django_db
def test_a_local_password_never_survives_a_sign_in():
    User.objects.create_user("kim@example.com", "kim@example.com", PASSWORD, is_staff=True)
    user = shadow_user_sync(identity("support"))
    user.refresh_from_db()
    assert not user.has_usable_password() and not user.check_password(PASSWORD)


# -- who may enter -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "is_staff", "amr", "refusal"),
    [
        (["customer"], False, ["pwd"], "not_staff"),
        (["customer"], True, ["pwd"], "not_staff"),  # staff flag without a staff role
        ([], True, ["pwd", "otp"], "not_staff"),
        (["catalogue_manager"], False, ["pwd"], "not_staff"),
        (["catalogue_manager"], True, ["pwd"], None),
        (["support", "inventory_manager"], True, ["pwd"], None),
        (["payment_manager"], True, ["pwd"], "second_factor_required"),
        (["support", "payment_manager"], True, ["pwd"], "second_factor_required"),
        (["admin"], True, ["pwd"], "second_factor_required"),
        (["payment_manager"], True, ["pwd", "otp"], None),
        (["admin"], True, ["pwd", "otp"], None),
    ],
)
def test_staff_enter_and_refunds_or_admin_need_a_one_time_code(roles, is_staff, amr, refusal):
    who = identity(*roles, amr=amr, is_staff=is_staff)
    if refusal is None:
        admit(who)
        return
    with pytest.raises(SignInRefused) as refused:
        admit(who)
    assert refused.value.code == refusal


# -- sessions ----------------------------------------------------------------------------------


def signed_in(client, who: Identity):
    user = shadow_user_sync(who)
    client.force_login(user)
    session = client.session
    sign_in_record(session=session, identity=who)
    session.save()
    return user


@pytest.mark.django_db
def test_a_revoked_person_is_signed_out_at_the_next_admin_request(client):
    who = identity("support", issued_at=time.time() - 5)
    signed_in(client, who)
    assert client.get("/admin/").status_code == 200
    revoke_user(who.user_id)  # what auth_service's deactivation does
    response = client.get("/admin/notes/note/?q=x")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=%2Fadmin%2Fnotes%2Fnote%2F%3Fq%3Dx"
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302  # and stays out


@pytest.mark.django_db
def test_a_sign_in_after_the_revocation_stands(client):
    who = identity("support")
    revoke_user(who.user_id)
    signed_in(client, dataclasses.replace(who, issued_at=time.time() + 1))
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_api_does_not_read_admin_sessions(client):
    who = identity("support", issued_at=time.time() - 5)
    signed_in(client, who)
    revoke_user(who.user_id)
    client.get("/healthz")
    assert SESSION_KEY in client.session  # only an admin request ends it


@pytest.mark.django_db
def test_an_idle_session_ends_before_a_deactivation_could_go_unseen(client, settings):
    who = identity("support")
    signed_in(client, who)
    assert client.session.get_expiry_age() == idle_timeout() == revocation_lifetime()
    assert revocation_lifetime() == settings.JWT["ACCESS_TOKEN_LIFETIME"] + 60
    assert client.session[SESSION_KEY] == {
        "user_id": who.user_id,
        "jti": who.jti,
        "iat": who.issued_at,
        "amr": ["pwd"],
        "seen_at": pytest.approx(time.time(), abs=5),
    }
    settings.ADMIN_SSO = {**settings.ADMIN_SSO, "IDLE_TIMEOUT": revocation_lifetime() + 1}
    assert [m.id for m in run_checks() if m.id.startswith("admin_sso")] == ["admin_sso.W001"]


def test_a_role_the_platform_does_not_have_is_a_configuration_error(settings):
    assert not [m for m in run_checks() if m.id.startswith("admin_sso")]
    settings.ADMIN_ROLE_PERMISSIONS = {"catalog_manager": ["notes.*"], "support": ["*.view_*"]}
    settings.MFA_ROLES = ["admin", "payments_manager"]
    errors = [m for m in run_checks() if m.id == "admin_sso.E001"]
    assert [e.msg for e in errors] == [
        "ADMIN_ROLE_PERMISSIONS names catalog_manager, not a staff role of the platform.",
        "MFA_ROLES names payments_manager, not a staff role of the platform.",
    ]


def test_the_admin_takes_only_the_platforms_staff_roles_from_a_token():
    assert identity("support", "auditor", is_staff=True).staff_roles == {"support"}
    with pytest.raises(SignInRefused):  # staff with no role the platform has: nothing to do
        admit(identity("auditor", is_staff=True))


# -- real processes: auth_service and product_service ------------------------------------------

AUTH, PRODUCT = BY_NAME["auth"], BY_NAME["product"]
CATALOGUE, PAYMENTS, CUSTOMER = "cat@example.com", "pay@example.com", "cus@example.com"

MAKE_USERS = f"""
from django.contrib.auth.models import Group
from accounts.models import User

def staff(email, *roles):
    user = User.objects.create_user(email, {PASSWORD!r}, is_staff=True)
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])

staff({CATALOGUE!r}, "catalogue_manager")
staff({PAYMENTS!r}, "payment_manager")
User.objects.create_user({CUSTOMER!r}, {PASSWORD!r})
"""


def manage(harness, service, *args: str) -> str:
    return harness.manage(service, *args, JWT_AUTO_KEY="1")


class Authenticator:
    """The payment manager's phone: codes for the device's key, each time step used once (the
    device refuses a step it has seen)."""

    def __init__(self, uri: str):
        assert uri.startswith("otpauth://totp/")
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.last_step = -1

    def code(self) -> str:
        step = max(int(time.time()) // 30, self.last_step + 1)
        wait_for(  # the device accepts one step ahead at most: until the clock gets there
            lambda: step <= int(time.time()) // 30 + 1,
            31,
            interval=0.2,
            what="the authenticator's next time step",
        )
        self.last_step = step
        return f"{hotp(self.key, step):06d}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from platform_tools.testing import backing
    from platform_tools.testing.processes import Harness

    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("admin-sso"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        manage(harness, AUTH, "shell", "-c", MAKE_USERS)
        # the URI is the command's last line (its log lines go to stdout too)
        phone = Authenticator(manage(harness, AUTH, "totp_device", PAYMENTS).splitlines()[-1])
        product = harness.start_web(
            PRODUCT,
            AUTH_SERVICE_URL=auth.url,
            JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json",
        )
        yield harness, auth, product, phone
    finally:
        harness.cleanup()


def sign_in(web, service: str, email: str, otp: str = "") -> tuple[requests.Session, object]:
    """A browser: the sign-in page (CSRF cookie), then the form."""
    browser = requests.Session()
    assert browser.get(f"{web.url}/admin/login/", timeout=10).status_code == 200
    response = browser.post(
        f"{web.url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": browser.cookies[f"{service}_csrftoken"],
            "email": email,
            "password": PASSWORD,
            "otp": otp,
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=20,
    )
    return browser, response


def admin_status(browser, web, path: str = "/admin/") -> int:
    return browser.get(f"{web.url}{path}", allow_redirects=False, timeout=10).status_code


def signed_in_ok(response) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/admin/"


def refusal(response) -> str:
    assert response.status_code == 200, response.status_code
    notes = re.findall(r'<p class="errornote">\s*(.*?)\s*</p>', response.text, re.S)
    assert len(notes) == 1, notes
    return notes[0]


def model_links(html: str) -> set[str]:
    return set(re.findall(r'href="/admin/([a-z_]+/[a-z_]+)/"', html))


def shadow_row(harness, email: str):
    rows = harness.query(
        PRODUCT,
        "SELECT u.is_staff, u.is_superuser, left(u.password, 1) = '!', "
        "array(SELECT g.name FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id "
        "WHERE ug.user_id = u.id ORDER BY g.name) FROM auth_user u WHERE u.username = ?",
        (email,),
    )
    return rows[0] if rows else None


def test_a_catalogue_manager_sees_exactly_the_catalogue(platform):
    harness, _, product, _ = platform
    browser, response = sign_in(product, "product", CATALOGUE)
    assert signed_in_ok(response), response.text[-2000:]

    index = browser.get(f"{product.url}/admin/", timeout=10)
    assert index.status_code == 200
    assert model_links(index.text) == {"catalogue/category", "catalogue/product"}
    assert browser.get(f"{product.url}/admin/catalogue/product/", timeout=10).status_code == 200
    dead_letters = browser.get(f"{product.url}/admin/service_kit/deadletter/", timeout=10)
    assert dead_letters.status_code == 403
    # the shadow user: staff, no superuser, no usable password, the role's group
    assert shadow_row(harness, CATALOGUE) == (True, False, True, ["catalogue_manager"])


def test_a_customer_cannot_enter(platform):
    harness, _, product, _ = platform
    browser, response = sign_in(product, "product", CUSTOMER)
    assert refusal(response).startswith("Please enter the correct email address and password")
    assert admin_status(browser, product) == 302
    assert shadow_row(harness, CUSTOMER) is None


def test_a_payment_manager_needs_the_one_time_code(platform):
    harness, _, product, phone = platform
    browser, response = sign_in(product, "product", PAYMENTS)
    assert refusal(response) == (
        "This account needs a second factor: enter the one-time code from your authenticator app."
    )
    assert admin_status(browser, product) == 302
    assert shadow_row(harness, PAYMENTS) is None

    browser, response = sign_in(product, "product", PAYMENTS, otp=phone.code())
    assert signed_in_ok(response), response.text[-2000:]
    index = browser.get(f"{product.url}/admin/", timeout=10)
    assert index.status_code == 200 and model_links(index.text) == set()  # no refunds here
    assert shadow_row(harness, PAYMENTS) == (True, False, True, ["payment_manager"])


def throttled(harness) -> bool:
    """Whether a TOTP device still refuses codes after a wrong one (django-otp waits
    2 ** (failures - 1) seconds from the last failure)."""
    return harness.query(
        AUTH,
        "SELECT count(*) FROM otp_totp_totpdevice WHERE throttling_failure_count > 0 AND "
        "throttling_failure_timestamp "
        "+ make_interval(secs => power(2, throttling_failure_count - 1)) > now()",
    ) != [(0,)]


def test_auth_services_own_admin_applies_the_same_rules(platform):
    harness, auth, _, phone = platform
    _, response = sign_in(auth, "auth", CUSTOMER)
    assert refusal(response).startswith("Please enter the correct email address and password")
    _, response = sign_in(auth, "auth", PAYMENTS)
    assert "needs a second factor" in refusal(response)
    _, response = sign_in(auth, "auth", PAYMENTS, otp="000000")
    assert refusal(response).startswith("Please enter the correct email address and password")
    wait_for(lambda: not throttled(harness), 10, interval=0.1, what="the device's throttle over")
    browser, response = sign_in(auth, "auth", PAYMENTS, otp=phone.code())
    assert signed_in_ok(response), response.text[-2000:]
    assert browser.get(f"{auth.url}/admin/", timeout=10).status_code == 200


def test_deactivation_in_auth_ends_the_admin_session(platform):
    harness, _, product, _ = platform
    browser, response = sign_in(product, "product", CATALOGUE)
    assert signed_in_ok(response)
    assert browser.get(f"{product.url}/admin/", timeout=10).status_code == 200

    manage(
        harness,
        AUTH,
        "shell",
        "-c",
        "from accounts.models import User; from accounts.services import user_deactivate; "
        f"user_deactivate(user=User.objects.get(email={CATALOGUE!r}))",
    )

    response = browser.get(
        f"{product.url}/admin/catalogue/product/", allow_redirects=False, timeout=10
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/?next=%2Fadmin%2Fcatalogue%2Fproduct%2F"
    assert admin_status(browser, product) == 302
    _, response = sign_in(product, "product", CATALOGUE)  # and cannot come back
    assert refusal(response).startswith("Please enter the correct email address and password")
