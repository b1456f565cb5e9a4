"""Staff access on real processes (auth_service and product_service, PostgreSQL, Redis): a
change of a person's roles or staff status ends their admin sessions and API tokens at the next
request; failed admin sign-ins are counted against the person's address, not the service's."""

from __future__ import annotations

import re

import jwt
import pytest
import requests
from platform_helpers import (
    AUTH,
    PASSWORD,
    PRODUCT,
)

from platform_tools.testing import backing
from platform_tools.testing.client import post_json
from platform_tools.testing.processes import Harness

STAFF = ("cat@example.com", "unstaffed@example.com", "ungrouped@example.com")

MAKE_STAFF = f"""
from django.contrib.auth.models import Group
from accounts.models import User

for email in {STAFF!r}:
    user = User.objects.create_user(email, {PASSWORD!r}, is_staff=True)
    user.groups.add(Group.objects.get(name="catalogue_manager"))
"""


def manage(harness, service, *args: str) -> str:
    return harness.manage(service, *args, JWT_AUTO_KEY="1")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("staff"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        manage(harness, AUTH, "shell", "-c", MAKE_STAFF)
        product = harness.start_web(
            PRODUCT, AUTH_SERVICE_URL=auth.url, JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json"
        )
        yield harness, auth, product
    finally:
        harness.cleanup()


def browser_at(web, service: str, address: str) -> requests.Session:
    """A browser behind the gateway at ``address`` (the gateway's X-Forwarded-For), with the
    sign-in page's CSRF cookie."""
    browser = requests.Session()
    browser.headers["X-Forwarded-For"] = address
    assert browser.get(f"{web.url}/admin/login/", timeout=10).status_code == 200
    browser.csrf_cookie = f"{service}_csrftoken"
    return browser


def sign_in(browser, web, email: str, password: str = PASSWORD):
    return browser.post(
        f"{web.url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": browser.cookies[browser.csrf_cookie],  # rotated at sign-in
            "email": email,
            "password": password,
            "otp": "",
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=20,
    )


def error_note(response) -> str:
    assert response.status_code == 200, response.status_code
    (note,) = re.findall(r'<p class="errornote">\s*(.*?)\s*</p>', response.text, re.S)
    return note


def api_read(web, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(f"{web.url}/api/v1/products/", headers=headers, timeout=10).status_code


# -- a change of access ends sessions everywhere -----------------------------------------------


@pytest.mark.parametrize(
    ("email", "change", "now"),
    [
        ("unstaffed@example.com", "user.is_staff = False; user.save()", (False, ["customer"])),
        (
            "ungrouped@example.com",
            "user.groups.remove(Group.objects.get(name='catalogue_manager'))",
            (True, []),
        ),
    ],
    ids=["staff-flag-removed", "role-group-removed"],
)
def test_a_demoted_staff_members_admin_session_and_token_end(platform, email, change, now):
    harness, auth, product = platform
    browser = browser_at(product, "product", "198.51.100.20")
    assert sign_in(browser, product, email).status_code == 302
    assert browser.get(f"{product.url}/admin/catalogue/product/", timeout=10).status_code == 200
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200, pair
    assert api_read(product, pair["access"]) == 200

    manage(
        harness,
        AUTH,
        "shell",
        "-c",
        "from django.contrib.auth.models import Group; from accounts.models import User; "
        f"user = User.objects.get(email={email!r}); {change}",
    )

    response = browser.get(
        f"{product.url}/admin/catalogue/product/", allow_redirects=False, timeout=10
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/?next=%2Fadmin%2Fcatalogue%2Fproduct%2F"
    assert api_read(product, pair["access"]) == 401
    # What the person is now, from a refresh or a new sign-in, without the role; no admin.
    status, _, fresh = post_json(
        f"{auth.url}/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}
    )
    assert status == 200, fresh
    claims = jwt.decode(fresh["access"], options={"verify_signature": False})
    assert (claims["is_staff"], claims["roles"]) == now
    assert error_note(sign_in(browser, product, email)).startswith("Please enter the correct")


# -- failed sign-ins count against the person's address ----------------------------------------


def test_failures_from_one_address_do_not_lock_out_staff_elsewhere(platform):
    _, _, product = platform
    attacker = browser_at(product, "product", "203.0.113.7")
    for n in range(20):  # the address limit; every email another, so no account is locked
        response = sign_in(attacker, product, f"nobody{n}@example.com", "wrong-password")
        assert error_note(response).startswith("Please enter the correct"), n

    staff = browser_at(product, "product", "198.51.100.9")
    assert sign_in(staff, product, "cat@example.com").status_code == 302
    assert staff.get(f"{product.url}/admin/", timeout=10).status_code == 200
    # The attacker's address is the one locked out, even with the right password.
    response = sign_in(attacker, product, "cat@example.com")
    assert error_note(response) == "Too many failed sign-ins. Try again later."
