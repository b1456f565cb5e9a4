"""Staff in a real browser (Chromium, headless, driven by Playwright), at the admins behind the
gateway, signed in once with their auth_service identity (single sign-on): a price changed in
the product admin, an order refunded in the order admin (finance signs in with a one-time code)
and seen refunded in the payment admin, an SKU restocked in the inventory admin. A screenshot of
each page is kept under ``reports/e2e/``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from conftest import PASSWORD, Api, new_customer, place_order, settled, sign_in, wait_for

CHROMIUM = "/usr/bin/chromium"
#: The staff sign-in every admin sends a stranger to: the front page's (the gateway admin's).
SIGN_IN = "/admin/gateway/login/"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Desk:
    """One staff member's browser (its own cookies) at the gateway; every page it is shown is
    kept as a numbered screenshot."""

    def __init__(self, browser, gateway: str, artifacts, who: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.gateway, self.artifacts, self.who, self.shots = gateway, artifacts, who, 0

    def shot(self, name: str) -> None:
        self.shots += 1
        path = self.artifacts / f"{self.who}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def open(self, path: str, name: str):
        response = self.page.goto(self.gateway + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.shot(name)
        return self.page

    def sign_in(self, segment: str, email: str, otp: str = "") -> str:
        """``/admin/<segment>/`` opened: a stranger is sent to the front page's sign-in (single
        sign-on), filled in here; someone signed in there already goes straight in. The text of
        the sign-in's error note when it refuses, else ''."""
        page = self.page
        page.goto(f"{self.gateway}/admin/{segment}/")
        if page.url == f"{self.gateway}/admin/{segment}/":
            self.shot(f"{segment}-index")
            return ""  # signed in at the front page already: no second sign-in
        assert urlsplit(page.url).path == SIGN_IN, page.url
        page.fill("#id_email", email)
        page.fill("#id_password", PASSWORD)
        if otp:
            page.fill("#id_otp", otp)
        self.shot(f"{segment}-sign-in")
        self.click_through("#login-form input[type=submit]")
        if urlsplit(page.url).path == SIGN_IN:
            self.shot(f"{segment}-sign-in-refused")
            return page.inner_text("p.errornote").strip()
        assert page.url == f"{self.gateway}/admin/{segment}/", page.url
        self.shot(f"{segment}-index")
        return ""

    def click_through(self, selector: str) -> None:
        """Click a link or a form's button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def message(self) -> str:
        return self.page.inner_text("ul.messagelist").strip()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desk(request, browser, gateway, artifacts):
    desks = []

    def make(who: str) -> Desk:
        desks.append(Desk(browser, gateway, artifacts, who))
        return desks[-1]

    yield make
    for each in desks:
        if getattr(request.node, "call_failed", False):
            each.shot("failed")  # where the browser was when the test failed
        each.close()


def test_a_price_changed_in_the_product_admin_is_the_apis_price(gateway, staff, catalogue, desk):
    product = catalogue["E2E-MUG-2"]
    merch = desk("catalogue")
    assert merch.sign_in("products", staff["merchandiser"]) == ""
    index = merch.page.inner_text("#content-main")
    assert "Products" in index and "Categories" in index
    page = merch.open("/admin/products/catalogue/product/?q=E2E-MUG-2", "products-changelist")
    assert page.locator("#result_list tbody tr").count() == 1
    merch.click_through("#result_list tbody tr .field-sku a")
    assert re.fullmatch(r".*/admin/products/catalogue/product/[^/]+/change/(\?.*)?", page.url)
    assert page.input_value("#id_price") == "30.00"
    page.fill("#id_price", "27.50")
    page.fill("#id_reason", "price list of the season")  # asked for the audit trail
    merch.shot("products-change")
    merch.click_through("input[name=_save]")
    assert re.fullmatch(r".*/admin/products/catalogue/product/(\?.*)?", page.url), page.url
    merch.shot("products-saved")
    assert "was changed successfully" in merch.message()

    # The API says so at once (every write makes the cached answers out of date), anonymous or not.
    for path in (f"/api/v1/products/{product['id']}/", f"/api/v1/products/{product['slug']}/"):
        assert Api(gateway).ok("GET", path)["price"] == "27.50"
    mugs = Api(gateway).ok("GET", "/api/v1/products/", params={"category": "mugs"})
    assert {p["sku"]: p["price"] for p in mugs["results"]}["E2E-MUG-2"] == "27.50"


def test_finance_refunds_an_order_in_the_order_admin_with_a_one_time_code(
    gateway, staff, catalogue, desk
):
    _, _, pair = new_customer(gateway)
    customer = Api(gateway, pair["access"])
    order = place_order(customer, [(catalogue["E2E-MUG-1"], 1)])
    assert settled(customer, order["id"])["status"] == "CONFIRMED"

    finance = desk("refund")
    # Refunds need the second factor: without the code the admin refuses.
    refusal = finance.sign_in("orders", staff["finance"])
    assert refusal.startswith("This account needs a second factor"), refusal
    assert finance.sign_in("orders", staff["finance"], otp=staff["phone"].code()) == ""

    page = finance.open(f"/admin/orders/orders/order/?q={order['id']}", "orders-changelist")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and choice(rows.first, "status") == "CONFIRMED"
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "refund_orders")
    page.fill("#changelist-form input[name=reason]", "refunded in the admin")  # asked: the audit
    finance.shot("orders-refund-chosen")
    finance.click_through("button[name=index]")
    finance.shot("orders-refund-sent")
    assert "1 order(s) sent for refund." in finance.message()

    # payment_service refunds; payment.refunded ends the order REFUNDED.
    refunded = settled_as(customer, order["id"], "REFUNDED")
    assert [step["status"] for step in refunded["history"]][-1] == "REFUNDED"
    page = finance.open(f"/admin/orders/orders/order/{order['id']}/change/", "orders-change")
    steps = page.locator("#transitions-group tr.has_original")
    last = steps.nth(steps.count() - 1)
    assert steps.count() == len(refunded["history"]) == 4
    assert (choice(last, "from_status"), choice(last, "to_status")) == ("CONFIRMED", "REFUNDED")
    assert cell(last, "reason") == "payment refunded"

    # In the payment admin (no second sign-in: single sign-on) the payment is refunded in full.
    assert finance.sign_in("payments", staff["finance"]) == ""
    page = finance.open(f"/admin/payments/payments/payment/?q={order['id']}", "payments-list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert (choice(rows.first, "status"), cell(rows.first, "refunded_shown")) == (
        "REFUNDED",
        "12.50 EUR",  # money with its currency (service_kit.console)
    )
    finance.click_through("#result_list tbody tr th a")  # the payment, its refunds: how much, why
    assert re.fullmatch(r".*/admin/payments/payments/payment/[^/]+/change/(\?.*)?", page.url)
    finance.shot("payments-change")
    refund = page.locator("#refunds-group tr.has_original")
    assert refund.count() == 1
    assert (cell(refund.first, "amount"), cell(refund.first, "reason")) == (
        "12.50",
        "refunded in the admin",
    )
    payments = customer.ok("GET", "/api/v1/payments/", params={"order_id": order["id"]})
    assert [(p["status"], p["refunded_amount"]) for p in payments["results"]] == [
        ("REFUNDED", "12.50")
    ]


def cell(row, field: str) -> str:
    """A column of an admin table's row."""
    return row.locator(f".field-{field}").inner_text().strip()


def choice(row, field: str) -> str:
    """A status column: its label (``Payment pending``) as the value (``PAYMENT_PENDING``)."""
    return cell(row, field).upper().replace(" ", "_")


def settled_as(customer: Api, order_id: str, status: str) -> dict:
    return wait_for(
        lambda: (o := customer.ok("GET", f"/api/v1/orders/{order_id}/"))["status"] == status and o,
        timeout=60,
        interval=0.5,
        what=f"order {order_id} {status}",
    )


def test_an_sku_restocked_in_the_inventory_admin(gateway, staff, catalogue, desk):
    merch_api = Api(gateway, sign_in(gateway, staff["merchandiser"])["access"])
    before = merch_api.ok("GET", "/api/v1/inventory/E2E-TEE-1/")

    merch = desk("restock")
    assert merch.sign_in("inventory", staff["merchandiser"]) == ""
    merch.open("/admin/inventory/stock/stockitem/", "inventory-stock")
    page = merch.open("/admin/inventory/stock/adjustment/add/", "inventory-adjustment-add")
    # The SKU is picked from the admin's autocomplete (select2), as a person picks it.
    page.click("#id_stock_item + .select2 .select2-selection")
    page.fill(".select2-search__field", "E2E-TEE")
    page.click(".select2-results__option:text('E2E-TEE-1')")
    page.select_option("#id_kind", "restock")
    page.fill("#id_quantity", "15")
    page.fill("#id_reason", "delivery from the supplier")
    merch.shot("inventory-adjustment-filled")
    merch.click_through("input[name=_save]")
    merch.shot("inventory-adjustment-saved")
    assert "was added successfully" in merch.message()
    newest = page.locator("#result_list tbody tr").first  # the history, newest first
    assert (cell(newest, "stock_item"), cell(newest, "delta")) == ("E2E-TEE-1", "15")
    assert cell(newest, "actor_email") == staff["merchandiser"]  # who signed in, from auth

    after = merch_api.ok("GET", "/api/v1/inventory/E2E-TEE-1/")
    assert after["on_hand"] == before["on_hand"] + 15
    assert after["available"] == before["available"] + 15
    page = merch.open("/admin/inventory/stock/stockitem/?q=E2E-TEE-1", "inventory-stock-after")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and cell(rows.first, "sku") == "E2E-TEE-1"
    assert cell(rows.first, "on_hand") == str(after["on_hand"])
