"""The staff front page's live figures and recent activity (edge.figures), against upstreams
that really answer over HTTP: only the admins the person's roles open are asked, each figure links
to its admin's filtered list, and a service that does not answer shows "unavailable" without
breaking the page."""

from __future__ import annotations

import json
import re
import time
import uuid
from urllib.parse import parse_qs

import pytest

from platform_tools.testing.permissions import admin_sign_in
from service_kit.auth import service_token

from .doubles import RecordingUpstream, SilentUpstream, json_reply

pytestmark = pytest.mark.django_db

SERVICES = ("auth", "user", "product", "inventory", "order", "payment")
ORDERS, STOCK = "/admin/orders/orders/order/", "/admin/inventory/stock/stockitem/"
FIGURES = {
    "order": [
        ("orders_waiting", "Orders waiting", 3, f"{ORDERS}?saga=waiting"),
        ("orders_stuck", "Orders stuck past their deadline", 2, f"{ORDERS}?saga=stuck"),
    ],
    "inventory": [("low_stock", "SKUs below their threshold", 4, f"{STOCK}?low_stock=yes")],
}


def activity_row(service: str, at: str, actor: str, reason: str, **extra) -> dict:
    segment = {"payment": "payments", "product": "products"}.get(service, service)
    return {
        "id": 1,
        "at": at,
        "actor": actor,
        "action": "refund",
        "target": f"{service} thing",
        "target_url": f"/admin/{segment}/x/y/1/change/",
        "reason": reason,
        "details": {},
        **extra,
    }


class Platform:
    """One recording upstream per service, answering the console API like the kit does."""

    def __init__(self):
        self.activity: dict[str, list[dict]] = {service: [] for service in SERVICES}
        self.figures: dict[str, list] = {
            service: [
                *FIGURES.get(service, []),
                ("dead_letters", "Dead letters waiting", 0, f"/admin/{service}/dl/"),
            ]
            for service in SERVICES
        }
        self.upstreams = {
            service: RecordingUpstream(self.answerer(service)) for service in SERVICES
        }

    def answerer(self, service):
        def respond(seen):
            if seen.path == "/api/v1/console/figures/":
                rows = [
                    {"key": key, "label": label, "count": count, "url": url}
                    for key, label, count, url in self.figures[service]
                ]
                return json_reply(200, {"service": service, "figures": rows})
            if seen.path == "/api/v1/console/activity/":
                return json_reply(200, {"service": service, "results": self.activity[service]})
            return json_reply(404, {"error": {"code": "not_found"}})

        return respond

    def asked(self, service: str, path: str = "/api/v1/console/figures/") -> list:
        return [seen for seen in self.upstreams[service].requests if seen.path == path]

    def close(self):
        for upstream in self.upstreams.values():
            upstream.close()


@pytest.fixture
def platform(settings):
    platform = Platform()
    settings.UPSTREAMS = {
        **settings.UPSTREAMS,
        **{service: upstream.url for service, upstream in platform.upstreams.items()},
    }
    settings.CONSOLE_CACHE_SECONDS = 0
    yield platform
    platform.close()


def cards(page: str) -> dict[str, str]:
    """Each figures card's HTML, by service."""
    section = page.split('<section class="console-figures"', 1)[1].split("</section>", 1)[0]
    found = {}
    for part in section.split('data-service="')[1:]:
        service, _, rest = part.partition('"')
        found[service] = rest
    return found


def test_the_figures_of_every_admin_the_roles_open_each_linked(client, platform):
    admin_sign_in(client, "support")

    page = client.get("/admin/").content.decode()

    shown = cards(page)
    assert list(shown) == list(SERVICES)
    assert (
        '<a href="/admin/orders/orders/order/?saga=stuck">Orders stuck past their deadline: '
        '<strong class="console-count">2</strong></a>'
    ) in shown["order"]
    assert "/admin/inventory/stock/stockitem/?low_stock=yes" in shown["inventory"]
    assert 'Dead letters waiting: <strong class="console-count">0</strong>' in shown["payment"]
    assert all(len(platform.asked(service)) == 1 for service in SERVICES)


def test_only_the_admins_the_roles_open_are_asked(client, platform):
    admin_sign_in(client, "order_manager")

    page = client.get("/admin/").content.decode()

    assert list(cards(page)) == ["order"]
    assert len(platform.asked("order")) == 1
    assert not any(platform.upstreams[s].requests for s in SERVICES if s != "order")


def test_a_service_that_does_not_answer_is_unavailable_and_the_page_still_comes(
    client, platform, settings
):
    silent = SilentUpstream()
    settings.UPSTREAMS = {**settings.UPSTREAMS, "payment": silent.url}
    settings.CONSOLE_TIMEOUT = (0.2, 0.3)
    platform.figures["auth"] = "not a list"  # nonsense: shown as nothing, not a 500
    admin_sign_in(client, "support")

    started = time.monotonic()
    response = client.get("/admin/")
    took = time.monotonic() - started

    assert response.status_code == 200
    assert took < 3.0  # the services are asked at once, each within the short timeout
    shown = cards(response.content.decode())
    assert "Figures unavailable" in shown["payment"]
    assert "Figures unavailable" not in shown["order"]
    assert "Payments: activity unavailable" in response.content.decode()


def test_a_service_may_link_only_into_its_own_admin(client, platform):
    platform.figures["order"] = [
        ("a", "Elsewhere", 1, "https://evil.example/admin/orders/"),
        ("b", "Script", 2, "javascript:alert(1)"),
        ("c", "Other admin", 3, "/admin/payments/payments/payment/"),
        ("d", "Sneaky", 4, "/admin/orders//evil.example/"),
        ("e", "Not a number", "5", "/admin/orders/x/"),
    ]
    admin_sign_in(client, "order_manager")

    card = cards(client.get("/admin/").content.decode())["order"]

    assert card.count('<a href="/admin/orders/">') == 5  # the admin's own index, four times
    assert "evil" not in card and "javascript" not in card and "/admin/payments/" not in card
    assert "Not a number" not in card


def activity_rows(page: str) -> list[list[str]]:
    table = page.split('<table class="console-activity-table">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_recent_activity_across_services_newest_first_and_by_person(client, platform):
    platform.activity["payment"] = [
        activity_row("payment", "2026-05-01T10:00:00+00:00", "ann@example.com", "<b>returned</b>")
    ]
    platform.activity["product"] = [
        activity_row("product", "2026-05-01T11:00:00+00:00", "bob@example.com", "sale"),
        activity_row("product", "not a date", "eve@example.com", "dropped"),
        activity_row("product", "2026-05-01T09:00:00+00:00", "ann@example.com", "typo", target_url="https://evil.example/"),
    ]  # fmt: skip
    admin_sign_in(client, "support")

    page = client.get("/admin/").content.decode()

    rows = activity_rows(page)
    assert [(row[1], row[2], row[5]) for row in rows] == [
        ("bob@example.com", "Catalogue", "sale"),
        ("ann@example.com", "Payments", "&lt;b&gt;returned&lt;/b&gt;"),
        ("ann@example.com", "Catalogue", "typo"),
    ]
    assert rows[0][0] == "2026-05-01 11:00:00"
    assert '<a href="/admin/payments/x/y/1/change/">payment thing</a>' in page
    assert '<a href="/admin/products/">product thing</a>' in page  # its foreign link replaced
    assert '<a href="?actor=ann%40example.com#activity">ann@example.com</a>' in page

    client.get("/admin/", {"actor": "ann@example.com"})

    asked = platform.asked("product", "/api/v1/console/activity/")[-1]
    assert parse_qs(asked.query) == {"limit": ["30"], "actor": ["ann@example.com"]}


def test_answers_are_kept_briefly_for_everyone(client, platform, settings):
    settings.CONSOLE_CACHE_SECONDS = 30
    admin_sign_in(client, "order_manager")
    actor = f"{uuid.uuid4().hex}@example.com"  # a cache key of this test's own

    client.get("/admin/", {"actor": actor})
    client.get("/admin/", {"actor": actor})

    assert len(platform.asked("order", "/api/v1/console/activity/")) == 1


def test_the_services_are_asked_with_the_gateways_service_token(
    client, platform, settings, monkeypatch
):
    def issue(seen):
        body = json.loads(seen.body)
        assert body == {"client_id": "gateway", "client_secret": "gateway-secret"}
        return json_reply(200, {"access": "console-token", "expires_in": 300})

    auth = RecordingUpstream(issue)
    settings.UPSTREAMS = {**settings.UPSTREAMS, "auth": auth.url}
    monkeypatch.setenv("SERVICE_CLIENT_ID", "gateway")
    monkeypatch.setenv("SERVICE_CLIENT_SECRET", "gateway-secret")
    monkeypatch.setattr(service_token, "_token", None)
    monkeypatch.setattr(service_token, "_expires", 0.0)
    admin_sign_in(client, "order_manager")
    try:
        client.get("/admin/")
    finally:
        auth.close()

    assert [seen.path for seen in auth.requests] == ["/api/v1/auth/service-token/"]
    seen = platform.asked("order")[0]
    assert seen.headers["Authorization"] == "Bearer console-token"
    assert settings.CONSOLE_TIMEOUT[1] <= 5  # short: the page waits for the slowest
