"""The staff console is accessible: axe-core (platform_tools.testing.accessibility) finds no
serious or critical violation on the staff front page at ``/admin/`` (signed out: its sign-in;
signed in) nor on one list and one change page of each service's admin, shown by headless
Chromium to a staff member who holds every role. Each page's axe results (JSON) and screenshot
are kept under ``reports/e2e/accessibility/``."""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest
from conftest import (
    ARTIFACTS,
    MAKE_STAFF,
    PASSWORD,
    Api,
    Authenticator,
    new_customer,
    place_order,
    settled,
    wait_for,
)
from test_staff_journey import browser  # noqa: F401 - the fixture: Debian's Chromium, headless

from platform_tools.testing.accessibility import audit, blocking, describe

#: A staff member whose role opens every admin (and needs the one-time code).
ADMINISTRATOR = ("a11y-admin@example.com", ("admin",))
REPORTS = ARTIFACTS / "accessibility"


@pytest.fixture(scope="module")
def reports():
    shutil.rmtree(REPORTS, ignore_errors=True)
    REPORTS.mkdir(parents=True)
    return REPORTS


@pytest.fixture(scope="module")
def administrator(stack) -> tuple[str, Authenticator]:
    made = stack.shell("auth", MAKE_STAFF.format(people=[ADMINISTRATOR], password=PASSWORD))
    assert made == "1", made
    uri = stack.manage("auth", "totp_device", ADMINISTRATOR[0]).splitlines()[-1]
    return ADMINISTRATOR[0], Authenticator(uri)


@pytest.fixture(scope="module")
def order(gateway, catalogue) -> dict:
    """A customer's confirmed order: their account and profile, a payment, a reservation."""
    email, _, pair = new_customer(gateway, first_name="Ada", last_name="Lovelace")
    customer = Api(gateway, pair["access"])
    placed = place_order(customer, [(catalogue["E2E-MUG-1"], 1)])
    assert settled(customer, placed["id"])["status"] == "CONFIRMED"
    return {**placed, "email": email}


class Console:
    """The administrator's browser at the gateway; :meth:`check` runs axe on the page shown."""

    def __init__(self, chromium, gateway: str, reports, administrator):
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.gateway, self.reports = gateway, reports
        self.email, self.phone = administrator

    def open(self, path: str) -> None:
        response = self.page.goto(self.gateway + path)
        assert response is not None and response.status == 200, (path, response and response.status)

    def sign_in_here(self, attempts: int = 3) -> None:
        """Fill in the sign-in form the browser shows and send it (again, with a new code, while
        the admin says auth_service did not answer in time: a loaded machine)."""
        page = self.page
        for _ in range(attempts):
            page.fill("#id_email", self.email)
            page.fill("#id_password", PASSWORD)
            page.fill("#id_otp", self.phone.code())
            with page.expect_navigation():
                page.click("#login-form [type=submit]")
            if not urlsplit(page.url).path.endswith("/login/"):
                return
            if "did not answer" not in page.inner_text("#content"):
                break
        raise AssertionError(f"{page.url} refused: {page.inner_text('#content')}")

    def enter(self, segment: str) -> None:
        """``/admin/<segment>/``, signing in there when it asks (once per admin without single
        sign-on)."""
        self.open(f"/admin/{segment}/")
        if urlsplit(self.page.url).path.endswith("/login/"):
            self.sign_in_here()
        assert urlsplit(self.page.url).path == f"/admin/{segment}/", self.page.url

    def check(self, name: str) -> str:
        """axe-core on the page shown: its results and a screenshot kept as ``name``; the
        serious and critical violations, described ('' when there are none)."""
        self.page.wait_for_load_state("load")
        results = audit(self.page)
        (self.reports / f"{name}.json").write_text(json.dumps(results, indent=1))
        self.page.screenshot(path=str(self.reports / f"{name}.png"), full_page=True)
        return describe(blocking(results), where=f"{name} ({urlsplit(self.page.url).path}):")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def console(browser, gateway, reports, administrator):  # noqa: F811 - the imported fixture
    desk = Console(browser, gateway, reports, administrator)
    yield desk
    desk.close()


def test_the_front_page_signed_out_and_signed_in(console):
    console.open("/admin/")  # a stranger is sent to the sign-in
    assert urlsplit(console.page.url).path.endswith("/login/"), console.page.url
    found = [console.check("front-page-signed-out")]
    console.sign_in_here()
    assert urlsplit(console.page.url).path == "/admin/", console.page.url
    assert console.page.locator("#content-main a[href^='/admin/']").count() >= 6
    found.append(console.check("front-page"))
    assert not any(found), "\n".join(filter(None, found))


#: Each admin: the list (``<app>/<model>/``) and the search that finds the run's object in it.
PAGES = {
    "auth": ("accounts/user/", "email"),
    "users": ("profiles/profile/", "email"),
    "products": ("catalogue/product/", "sku"),
    "inventory": ("stock/stockitem/", "sku"),
    "orders": ("orders/order/", "id"),
    "payments": ("payments/payment/", "id"),
}


@pytest.mark.parametrize("segment", PAGES)
def test_an_admins_list_and_change_page(console, order, segment):
    model, key = PAGES[segment]
    query = {"email": order["email"], "sku": "E2E-MUG-1", "id": order["id"]}[key]
    console.enter(segment)
    listed = f"/admin/{segment}/{model}?q={query}"
    rows = console.page.locator("#result_list tbody tr")

    def shown() -> bool:  # the profile comes from auth_service's event, a moment later
        console.open(listed)
        return rows.count() == 1

    wait_for(shown, timeout=30, what=f"{query} in {listed}")
    found = [console.check(f"{segment}-list")]
    with console.page.expect_navigation():
        rows.first.locator(f"a[href*='/{segment}/{model}'][href*='/change/']").first.click()
    assert urlsplit(console.page.url).path.endswith("/change/"), console.page.url
    found.append(console.check(f"{segment}-change"))
    assert not any(found), "\n".join(filter(None, found))
