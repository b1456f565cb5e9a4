"""The staff front page on the whole platform as real processes (every service, its worker and
beat, PostgreSQL, RabbitMQ, Redis): its live figures are the services' data, read by the gateway
with its own service token, each linked to the admin list that shows the rows counted; and a
refund, a price change, a restock and a role change each appear in its recent-activity list with
who, when and why. The order deadline task is slowed down here, so that a stuck order stays
stuck long enough to be seen."""

from __future__ import annotations

import base64
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.console import DEAD_LETTER, DEAD_LETTER_ID, STUCK_ORDER
from platform_tools.testing.processes import wait_for
from platform_tools.testing.stack import Stack

#: The admins' segments behind the gateway, and their services (their cookies' names).
SERVICES = {"gateway": "gateway", "auth": "auth", "orders": "order", "inventory": "inventory"}
#: Booting the whole platform is in the first test's time.
pytestmark = pytest.mark.timeout(900)

PASSWORD = "Correct-Horse-Battery-9"
ADMIN = "root@example.com"  # the admin role: grants roles in the accounts admin
MERCH = "merch@example.com"  # catalogue and stock
FINANCE = "finance@example.com"  # refunds (a one-time code)
SUPPORT = "support@example.com"  # reads every admin and the front page
KIM = "kim@example.com"  # given a role

MAKE_STAFF = f"""
from django.contrib.auth.models import Group
from accounts.models import User

people = [
    ({ADMIN!r}, ["admin"]),
    ({MERCH!r}, ["catalogue_manager", "inventory_manager"]),
    ({FINANCE!r}, ["payment_manager"]),
    ({SUPPORT!r}, ["support"]),
    ({KIM!r}, ["support"]),
]
for email, roles in people:
    user = User.objects.create_user(email, {PASSWORD!r}, is_staff=True)
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
Group.objects.get_or_create(name="order_manager")
print(User.objects.filter(is_staff=True).count())
"""


class Authenticator:
    """A staff member's authenticator app, from the ``otpauth://`` URI auth_service printed."""

    def __init__(self, uri: str):
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    def code(self) -> str:
        from django_otp.oath import hotp

        return f"{hotp(self.key, int(time.time()) // 30):06d}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    platform = Stack(
        tmp_path_factory.mktemp("console"),
        prometheus=False,
        env={
            "ORDER_DEADLINE_CHECK_INTERVAL": "3600",  # the stuck order stays stuck
            "ORDER_RECONCILIATION_INTERVAL": "0",
            "CONSOLE_CACHE_SECONDS": "0",  # each page shows the data as it is now
        },
    )
    try:
        platform.start()
        assert platform.shell("auth", MAKE_STAFF) == "5"
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def gateway(stack) -> str:
    return stack.gateway.url


@pytest.fixture(scope="module")
def phones(stack) -> dict[str, Authenticator]:
    return {
        email: Authenticator(stack.manage("auth", "totp_device", email).splitlines()[-1])
        for email in (ADMIN, FINANCE)
    }


def api(gateway: str, method: str, path: str, token: str | None = None, **kwargs):
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, gateway + path, headers=headers, timeout=20, **kwargs)


def token(gateway: str, email: str, otp: str = "") -> str:
    body = {"email": email, "password": PASSWORD, **({"otp": otp} if otp else {})}
    answer = api(gateway, "POST", "/api/v1/auth/token/", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["access"]


def admin_session(gateway: str, segment: str, email: str, otp: str = "", browser=None):
    """A browser signed in to ``/admin/<segment>/`` through the gateway."""
    browser = browser or requests.Session()
    index = f"/admin/{segment}/"
    url = f"{gateway}{index}login/?next={index}"
    assert browser.get(url, timeout=10).status_code == 200
    service = SERVICES[segment]
    cookie = browser.cookies.get(f"{service}_csrftoken", path=index) or browser.cookies.get(
        f"{service}_csrftoken"
    )
    signed = browser.post(
        url,
        data={
            "csrfmiddlewaretoken": cookie,
            "email": email,
            "password": PASSWORD,
            "otp": otp,
            "next": index,
        },
        headers={"Origin": gateway, "Referer": url},
        allow_redirects=False,
        timeout=20,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == index, signed.text[-1500:]
    return browser


def front_page(browser, gateway: str, **query) -> str:
    page = browser.get(f"{gateway}/admin/", params=query, timeout=30)
    assert page.status_code == 200
    return page.text


def figure(page: str, service: str, label: str) -> tuple[int, str]:
    """A figure's count and link on the front page."""
    card = page.split(f'data-service="{service}"', 1)[1].split("</div>", 1)[0]
    found = re.search(
        rf'<a href="([^"]+)">{re.escape(label)}: <strong class="console-count">(\d+)</strong>',
        card,
    )
    assert found, card
    return int(found.group(2)), found.group(1).replace("&amp;", "&")


def activity(page: str) -> list[dict[str, str]]:
    table = page.split('<table class="console-activity-table">', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        rows.append(
            dict(zip(("when", "who", "where", "action", "what", "why"), cells, strict=True))
        )
    return rows


def test_the_figures_count_the_data_and_link_to_its_list(stack, gateway):
    support = admin_session(gateway, "gateway", SUPPORT)
    page = front_page(support, gateway)
    stuck_before = figure(page, "order", "Orders stuck past their deadline")[0]
    low_before = figure(page, "inventory", "SKUs below their threshold")[0]
    letters_before = figure(page, "inventory", "Dead letters waiting")[0]

    # a stuck order, a dead letter, and a new SKU with less than its threshold in stock
    order_id = stack.shell("order", STUCK_ORDER)
    stack.shell("inventory", DEAD_LETTER)
    merch = token(gateway, MERCH)
    sku = f"LOW-{uuid.uuid4().hex[:6].upper()}"
    made = api(
        gateway,
        "POST",
        "/api/v1/products/",
        merch,
        json={"sku": sku, "name": "Lamp", "price": "20.00"},
    )
    assert made.status_code == 201, made.text
    wait_for(
        lambda: api(gateway, "GET", f"/api/v1/inventory/{sku}/", merch).status_code == 200,
        what=f"{sku} in inventory",
    )

    page = front_page(support, gateway)

    stuck, stuck_link = figure(page, "order", "Orders stuck past their deadline")
    low, low_link = figure(page, "inventory", "SKUs below their threshold")
    letters, letters_link = figure(page, "inventory", "Dead letters waiting")
    assert (stuck, low, letters) == (stuck_before + 1, low_before + 1, letters_before + 1)
    assert stuck_link == "/admin/orders/orders/order/?saga=stuck"
    assert low_link == "/admin/inventory/stock/stockitem/?low_stock=yes"
    assert letters_link == "/admin/inventory/service_kit/deadletter/?replayed_at__isnull=True"
    # each link is the admin's list of what was counted
    admin_session(gateway, "orders", SUPPORT, browser=support)
    admin_session(gateway, "inventory", SUPPORT, browser=support)
    for link, expected in (
        (stuck_link, order_id),
        (low_link, sku),
        (letters_link, DEAD_LETTER_ID),
    ):
        listed = support.get(gateway + link, timeout=20)
        assert listed.status_code == 200 and expected in listed.text, link
    # a figure of an admin the person's roles do not open is not shown
    merch_page = front_page(admin_session(gateway, "gateway", MERCH), gateway)
    assert 'data-service="inventory"' in merch_page and 'data-service="order"' not in merch_page
    assert 'data-service="payment"' not in merch_page


def test_refund_price_change_restock_and_role_change_are_in_the_activity_list(
    stack, gateway, phones
):
    merch = token(gateway, MERCH)
    sku = f"ACT-{uuid.uuid4().hex[:6].upper()}"
    product = api(
        gateway,
        "POST",
        "/api/v1/products/",
        merch,
        json={"sku": sku, "name": "Mug", "price": "12.50"},
    ).json()
    wait_for(
        lambda: api(gateway, "GET", f"/api/v1/inventory/{sku}/", merch).status_code == 200,
        what=f"{sku} in inventory",
    )
    # the restock and the price change, each with its reason
    restocked = api(
        gateway,
        "POST",
        f"/api/v1/inventory/{sku}/adjustments/",
        merch,
        json={"kind": "restock", "quantity": 20, "reason": "delivery 4711"},
    )
    assert restocked.status_code == 201, restocked.text
    unexplained = api(
        gateway, "PATCH", f"/api/v1/products/{product['id']}/", merch, json={"price": "13.00"}
    )
    assert unexplained.status_code == 400
    assert "reason" in unexplained.json()["error"]["details"]
    repriced = api(
        gateway,
        "PATCH",
        f"/api/v1/products/{product['id']}/",
        merch,
        json={"price": "11.00", "reason": "spring sale"},
    )
    assert repriced.status_code == 200, repriced.text

    # a customer's order, confirmed, then refunded by finance (with a one-time code)
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    registered = api(
        gateway, "POST", "/api/v1/auth/register/", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    customer = token(gateway, email)
    body = {
        "lines": [{"product_id": product["id"], "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }
    placed = api(
        gateway,
        "POST",
        "/api/v1/orders/",
        customer,
        json=body,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    wait_for(
        lambda: (
            api(gateway, "GET", f"/api/v1/orders/{order_id}/", customer).json()["status"]
            == "CONFIRMED"
        ),
        timeout=90,
        what="the order confirmed",
    )
    finance = token(gateway, FINANCE, otp=phones[FINANCE].code())
    payment = api(
        gateway, "GET", "/api/v1/payments/", finance, params={"order_id": order_id}
    ).json()["results"][0]
    refunded = api(
        gateway,
        "POST",
        f"/api/v1/payments/{payment['id']}/refunds/",
        finance,
        json={"amount": "5.00", "reason": "scratched on arrival"},
    )
    assert refunded.status_code == 201, refunded.text

    # the admin gives kim a second role in the accounts admin, saying why
    # signed in once at the front page; the accounts admin opens by single sign-on (a ticket)
    root = admin_session(gateway, "gateway", ADMIN, otp=phones[ADMIN].code())
    ids = stack.shell(
        "auth",
        "from accounts.models import User; from django.contrib.auth.models import Group; "
        f"print(User.objects.get(email={KIM!r}).pk, "
        "*[Group.objects.get(name=n).pk for n in ('support', 'order_manager')])",
    ).split()
    change = f"{gateway}/admin/auth/accounts/user/{ids[0]}/change/"
    assert root.get(change, timeout=20).status_code == 200
    saved = root.post(
        change,
        data={
            "csrfmiddlewaretoken": root.cookies.get("auth_csrftoken", path="/admin/auth/"),
            "email": KIM,
            "is_active": "on",
            "is_staff": "on",
            "groups": ids[1:],
            "reason": "joins the orders desk",
            "_save": "Save",
        },
        headers={"Origin": gateway, "Referer": change},
        allow_redirects=False,
        timeout=20,
    )
    assert saved.status_code == 302, saved.text[-3000:]

    support = admin_session(gateway, "gateway", SUPPORT)
    rows = activity(front_page(support, gateway))
    seen = {(row["who"], row["where"], row["action"], row["why"]) for row in rows}
    assert {
        (MERCH, "Inventory", "restock", "delivery 4711"),
        (MERCH, "Catalogue", "price_change", "spring sale"),
        (FINANCE, "Payments", "refund", "scratched on arrival"),
        (ADMIN, "Accounts", "role_grant", "joins the orders desk"),
    } <= seen
    grant = next(row for row in rows if row["action"] == "role_grant")
    assert grant["what"] == f"{KIM}: order_manager"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", grant["when"])
    assert [row["when"] for row in rows] == sorted((row["when"] for row in rows), reverse=True)

    # by person: only the merchandiser's
    mine = activity(front_page(support, gateway, actor=MERCH))
    assert {row["action"] for row in mine} == {"restock", "price_change"}
    assert {row["who"] for row in mine} == {MERCH}
