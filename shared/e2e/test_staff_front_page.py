"""The staff front page in headless Chromium on the whole platform: an admin signs in once at
``/admin/``; a stuck order, a dead letter and a low-stock SKU are each counted, and each figure's
link lands on its admin's filtered list showing that row. A refund, a price change, a restock and
a role change made in the admins (each asks why) are each in the recent-activity list with who,
when and why, and the list filters by person. Screenshots under ``reports/e2e/`` (``front-…``),
among them ``staff-front-page.png``, the README's picture of the front page."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import (
    MAKE_STAFF,
    PASSWORD,
    Api,
    Authenticator,
    new_customer,
    place_order,
    settled,
    sign_in,
    wait_for,
)
from test_staff_journey import Desk, browser  # noqa: F401 - the browser fixture
from test_staff_sso import front_sign_in

from platform_tools.testing.console import DEAD_LETTER, DEAD_LETTER_ID, STUCK_ORDER

#: The admin role (every admin, a one-time code); kim, given a role by the admin.
ADMIN = ("front-admin@example.com", ("admin",))
KIM = ("front-kim@example.com", ("support",))
STUCK = ("order", "Orders stuck past their deadline")
LOW = ("inventory", "SKUs below their threshold")
LETTERS = ("inventory", "Dead letters waiting")
UNREPLAYED = "replayed_at__isnull=True"
COLUMNS = ("when", "who", "where", "action", "what", "why")


@pytest.fixture(scope="module")
def front(stack, browser, gateway, artifacts):  # noqa: F811 - the journey's browser
    """The admin's browser, signed in once at the front page for the whole module."""
    made = stack.shell("auth", MAKE_STAFF.format(people=[ADMIN, KIM], password=PASSWORD))
    assert made == "2", made
    phone = Authenticator(stack.manage("auth", "totp_device", ADMIN[0]).splitlines()[-1])
    desk = Desk(browser, gateway, artifacts, "front")
    assert front_sign_in(desk, ADMIN[0], otp=phone.code()) == ""
    yield desk
    desk.shot("last")
    desk.close()


def figure(desk: Desk, service: str, label: str):
    """A figure on the front page: its count and its link."""
    link = desk.page.locator(f'div.console-card[data-service="{service}"] a', has_text=label)
    return int(link.locator("strong.console-count").inner_text()), link


def counts(desk: Desk) -> tuple[int, ...]:
    desk.page.goto(f"{desk.gateway}/admin/")  # figures are kept CONSOLE_CACHE_SECONDS
    return tuple(figure(desk, *each)[0] for each in (STUCK, LOW, LETTERS))


def activity(desk: Desk) -> list[dict[str, str]]:
    rows = desk.page.locator("table.console-activity-table tbody tr")
    return [
        dict(zip(COLUMNS, rows.nth(i).locator("td").all_inner_texts(), strict=True))
        for i in range(rows.count())
    ]


def test_each_figure_counts_the_data_and_links_to_its_row(stack, gateway, staff, front):
    before = counts(front)
    order_id = stack.shell("order", STUCK_ORDER)
    stack.shell("inventory", DEAD_LETTER)
    merch = Api(gateway, sign_in(gateway, staff["merchandiser"])["access"])
    sku = f"LOW-{uuid.uuid4().hex[:6].upper()}"  # a new SKU: none in stock, below its threshold
    merch.ok("POST", "/api/v1/products/", {"sku": sku, "name": "Lamp", "price": "20.00"}, 201)
    wait_for(lambda: merch.get(f"/api/v1/inventory/{sku}/")[0] == 200, what=f"{sku} in stock")

    expected = tuple(n + 1 for n in before)
    wait_for(lambda: counts(front) == expected, timeout=30, what=f"the figures at {expected}")
    front.shot("figures")
    for (service, label), path, row in (
        (STUCK, "/admin/orders/orders/order/?saga=stuck", order_id),
        (LOW, "/admin/inventory/stock/stockitem/?low_stock=yes", sku),
        (LETTERS, f"/admin/inventory/service_kit/deadletter/?{UNREPLAYED}", DEAD_LETTER_ID),
    ):
        front.page.goto(f"{gateway}/admin/")
        front.click_through(f'div.console-card[data-service="{service}"] a:has-text("{label}")')
        assert front.page.url == gateway + path, front.page.url
        front.shot(f"{service}-list")
        assert row in front.page.inner_text("#result_list"), (path, row)


def restock(desk: Desk, sku: str, quantity: int, reason: str) -> None:
    """An adjustment in the inventory admin, the SKU picked from its autocomplete."""
    page = desk.open("/admin/inventory/stock/adjustment/add/", "restock")
    page.click("#id_stock_item + .select2 .select2-selection")
    page.fill(".select2-search__field", sku)
    page.click(f".select2-results__option:text('{sku}')")
    page.select_option("#id_kind", "restock")
    page.fill("#id_quantity", str(quantity))
    page.fill("#id_reason", reason)
    desk.click_through("input[name=_save]")
    assert "was added successfully" in desk.message()


def test_staff_actions_in_the_admins_are_in_the_activity_list(
    gateway, staff, catalogue, front, artifacts
):
    # A refund in the order admin, of a customer's confirmed order.
    _, _, pair = new_customer(gateway)
    customer = Api(gateway, pair["access"])
    order = place_order(customer, [(catalogue["E2E-MUG-1"], 1)])
    assert settled(customer, order["id"])["status"] == "CONFIRMED"
    page = front.open(f"/admin/orders/orders/order/?q={order['id']}", "refund")
    page.locator("#result_list tbody tr input.action-select").first.check()
    page.select_option("select[name=action]", "refund_orders")
    page.fill("#changelist-form input[name=reason]", "lost in the post")
    front.click_through("button[name=index]")
    assert "1 order(s) sent for refund." in front.message()

    # A price change in the product admin.
    product = catalogue["E2E-TEE-1"]
    page = front.open(f"/admin/products/catalogue/product/{product['id']}/change/", "price")
    page.fill("#id_price", "18.00")
    page.fill("#id_reason", "summer sale")
    front.click_through("input[name=_save]")
    assert "was changed successfully" in front.message()

    # A restock in the inventory admin.
    restock(front, "E2E-MUG-2", 5, "late delivery 88")

    # A role given in the accounts admin.
    page = front.open(f"/admin/auth/accounts/user/?q={KIM[0]}", "accounts")
    front.click_through("#result_list tbody tr th a")
    page.select_option("#id_groups_from", label="order_manager")
    page.click("#id_groups_add")
    page.fill("#id_reason", "joins the orders desk")
    front.shot("role")
    front.click_through("input[name=_save]")
    assert "was changed successfully" in front.message()

    mine = {
        ("Orders", "refund", "lost in the post"),
        ("Catalogue", "price_change", "summer sale"),
        ("Inventory", "restock", "late delivery 88"),
        ("Accounts", "role_grant", "joins the orders desk"),
    }

    def listed() -> list[dict[str, str]] | None:
        front.page.goto(f"{gateway}/admin/")
        rows = activity(front)
        seen = {(r["where"], r["action"], r["why"]) for r in rows if r["who"] == ADMIN[0]}
        return rows if mine <= seen else None

    rows = wait_for(listed, timeout=30, what="the admin's actions in the activity list")
    front.page.screenshot(path=str(artifacts / "staff-front-page.png"), full_page=True)
    front.shot("activity")
    grant = next(r for r in rows if r["action"] == "role_grant" and r["who"] == ADMIN[0])
    assert grant["what"] == f"{KIM[0]}: order_manager"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", grant["when"])
    assert [r["when"] for r in rows] == sorted((r["when"] for r in rows), reverse=True)
    assert staff["merchandiser"] in {r["who"] for r in rows}  # others' actions too

    # By person, in the form: only the admin's.
    front.page.fill("#activity-actor", ADMIN[0])
    front.click_through(".console-activity-filter input[type=submit]")
    front.shot("activity-by-person")
    rows = activity(front)
    assert {r["who"] for r in rows} == {ADMIN[0]}
    assert {(r["where"], r["action"], r["why"]) for r in rows} == mine
