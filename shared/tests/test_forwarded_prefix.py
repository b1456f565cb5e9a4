"""The admin behind the gateway's path prefix (service_kit.ops.forwarded), in process.

The gateway sends ``/admin/notes/<rest>`` to the service as ``/admin/<rest>`` with
``X-Forwarded-Prefix: /admin/notes``: links, redirects, form actions, static URLs and cookies
must come out under ``/admin/notes/``; without the header nothing changes.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import get_script_prefix, reverse

from service_kit.console import admins_open_to
from service_kit.ops.forwarded import clean_prefix

pytestmark = pytest.mark.django_db

PREFIX = "/admin/notes"
GATEWAY = {"HTTP_X_FORWARDED_PREFIX": PREFIX, "HTTP_X_FORWARDED_HOST": "localhost:8000"}


def hrefs(html: str) -> set[str]:
    return set(re.findall(r'(?:href|src|action)="([^"]+)"', html))


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ada@example.com", "ada@example.com", None)
    client.force_login(user)
    return user


def test_the_sign_in_redirect_and_its_next_carry_the_prefix(client):
    response = client.get("/admin/notes/note/?q=x", **GATEWAY)
    assert response.status_code == 302
    assert response["Location"] == "/admin/notes/login/?next=/admin/notes/notes/note/%3Fq%3Dx"


def test_the_sign_in_page_posts_and_links_under_the_prefix(client):
    response = client.get("/admin/login/?next=/admin/notes/", **GATEWAY)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/admin/notes/login/?next=/admin/notes/"' in html
    links = hrefs(html)
    assert "/admin/notes/static/admin/css/base.css" in links
    assert "/admin/notes/static/admin/css/login.css" in links
    unprefixed = {u for u in links if u.startswith("/") and not u.startswith(PREFIX + "/")}
    assert unprefixed == set()


def test_the_index_links_every_model_under_the_prefix(client, staff):
    response = client.get("/admin/", **GATEWAY)
    assert response.status_code == 200
    links = hrefs(response.content.decode())
    assert "/admin/notes/notes/note/" not in links  # notes has no ModelAdmin in this project
    assert {
        "/admin/notes/service_kit/deadletter/",
        "/admin/notes/auth/user/",
        "/admin/notes/",  # "Site administration" and "View site"
        "/admin/notes/static/admin/css/base.css",
    } <= links
    assert 'action="/admin/notes/logout/"' in response.content.decode()
    # Outside the prefix only the staff console's bar: the front page and the other admins.
    console = {"/admin/"} | {entry.url for entry in admins_open_to({"admin"})}
    assert {u for u in links if u.startswith("/") and not u.startswith(PREFIX)} == console


def test_a_missing_slash_is_added_under_the_prefix(client, staff):
    response = client.get("/admin/auth/user", **GATEWAY)
    assert response.status_code == 301
    assert response["Location"] == "/admin/notes/auth/user/"


@pytest.mark.parametrize(
    "upstream_path",
    ["/static/admin/css/base.css", "/admin/static/admin/css/base.css"],  # prefix replaced, or mount
)
def test_static_files_are_served_under_the_prefix(client, upstream_path):
    response = client.get(upstream_path, **GATEWAY)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)


def test_without_the_header_nothing_changes_and_the_prefix_is_gone_after(client, staff):
    assert client.get("/admin/", **GATEWAY).status_code == 200
    assert get_script_prefix() == "/"
    response = client.get("/admin/")
    links = hrefs(response.content.decode())
    assert {"/admin/service_kit/deadletter/", "/static/admin/css/base.css"} <= links
    assert not {u for u in links if u.startswith(PREFIX)}
    assert reverse("admin:index") == "/admin/"
    assert client.get("/admin/login/")["Content-Type"].startswith("text/html")


def test_cookies_set_under_the_prefix_live_under_it(client):
    response = client.get("/admin/login/", **GATEWAY)
    cookie = response.cookies["notes_csrftoken"]
    assert cookie["path"] == "/admin/notes/"
    assert client.get("/admin/login/").cookies["notes_csrftoken"]["path"] == "/"


def test_an_admin_form_posted_through_the_gateway_passes_csrf(staff):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    page = browser.get("/admin/", **GATEWAY)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    origin = {"HTTP_ORIGIN": "http://localhost:8000"}
    evil = browser.post(
        "/admin/logout/",
        {"csrfmiddlewaretoken": token},
        **GATEWAY,
        HTTP_ORIGIN="http://evil.example",
    )
    assert evil.status_code == 403
    response = browser.post("/admin/logout/", {"csrfmiddlewaretoken": token}, **GATEWAY, **origin)
    assert response.status_code == 200, response.content[:500]
    assert b"Logged out" in response.content
    assert browser.get("/admin/", **GATEWAY)["Location"].startswith("/admin/notes/login/")


def test_errors_under_the_prefix_keep_the_platform_body(client, staff):
    response = client.get("/healthz", **GATEWAY)  # not under the mount: plain SCRIPT_NAME
    assert response.status_code == 200
    response = client.get("/admin/nope/nothing/", **GATEWAY)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("header", "prefix"),
    [
        ("/admin/notes", "/admin/notes"),
        ("/admin/notes/", "/admin/notes"),
        ("/", ""),
        ("", ""),
        ("//evil.example", ""),
        ("/admin/../secret", ""),
        ("/admin/./x", ""),
        ("https://evil.example/admin", ""),
        ("/admin notes", ""),
        ("/a,/b", ""),
        ("/" + "a" * 300, ""),
    ],
)
def test_only_a_plain_path_is_a_prefix(header, prefix):
    assert clean_prefix(header) == prefix


def test_a_bad_prefix_is_ignored(client):
    response = client.get("/admin/", HTTP_X_FORWARDED_PREFIX="//evil.example")
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_an_untrusted_prefix_is_ignored(settings):
    settings.TRUST_FORWARDED_PREFIX = False
    response = Client().get("/admin/", **GATEWAY)  # a new client: middleware loaded afresh
    assert response["Location"] == "/admin/login/?next=/admin/"
