"""Single sign-on across the admins, in headless Chromium on the whole platform: one sign-in at
the staff front page (``/admin/``) opens every admin the person's roles open, with no second
sign-in; an order leads to its payment and back; one sign-out signs out of all; support sees only
what support may see; a payment manager gives a one-time code before any admin opens; a demotion
in auth_service shows at the next click. Screenshots under ``reports/e2e/`` (``sso-…``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from conftest import MAKE_STAFF, PASSWORD, Api, new_customer, place_order, settled
from test_staff_journey import SIGN_IN, Desk, browser  # noqa: F401 - the browser fixture

#: Support and orders: every admin but the gateway's. Support alone. A catalogue manager (and
#: support) demoted while signed in.
OPS = ("sso-ops@example.com", ("support", "order_manager"))
HELP = ("sso-help@example.com", ("support",))
DEMOTED = ("sso-demoted@example.com", ("support", "catalogue_manager"))
SIX = [
    "/admin/auth/",
    "/admin/users/",
    "/admin/products/",
    "/admin/inventory/",
    "/admin/orders/",
    "/admin/payments/",
]
TITLES = ["Accounts", "Customers", "Catalogue", "Inventory", "Orders", "Payments"]


@pytest.fixture(scope="module")
def people(stack) -> None:
    made = stack.shell("auth", MAKE_STAFF.format(people=[OPS, HELP, DEMOTED], password=PASSWORD))
    assert made == "3", made


@pytest.fixture
def desk(request, browser, gateway, artifacts):  # noqa: F811 - the journey's browser
    desks = []

    def make(who: str) -> Desk:
        desks.append(Desk(browser, gateway, artifacts, f"sso-{who}"))
        return desks[-1]

    yield make
    for each in desks:
        if getattr(request.node, "call_failed", False):
            each.shot("failed")
        each.close()


@pytest.fixture(scope="module")
def paid_order(gateway, catalogue) -> dict:
    _, _, pair = new_customer(gateway)
    customer = Api(gateway, pair["access"])
    order = place_order(customer, [(catalogue["E2E-MUG-1"], 1)])
    order = settled(customer, order["id"])
    assert order["status"] == "CONFIRMED", order
    (payment,) = customer.ok("GET", "/api/v1/payments/", params={"order_id": order["id"]})[
        "results"
    ]
    return {**order, "payment_id": payment["id"]}


def front_sign_in(desk: Desk, email: str, otp: str = "") -> str:
    """At ``/admin/``: the sign-in, filled in. The error note when refused, else ''."""
    page = desk.page
    page.goto(f"{desk.gateway}/admin/")
    assert urlsplit(page.url).path == SIGN_IN, page.url
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    if otp:
        page.fill("#id_otp", otp)
    desk.click_through("#login-form input[type=submit]")
    if urlsplit(page.url).path == SIGN_IN:
        desk.shot("sign-in-refused")
        return page.inner_text("p.errornote").strip()
    assert page.url == f"{desk.gateway}/admin/", page.url
    desk.shot("front-page")
    return ""


def listed(desk: Desk) -> list[str]:
    links = desk.page.locator("ul.console-admins a")
    return [links.nth(i).get_attribute("href") for i in range(links.count())]


def signed_out(desk: Desk, path: str) -> bool:
    """Whether opening ``path`` ends at the front page's sign-in."""
    desk.page.goto(desk.gateway + path)
    return urlsplit(desk.page.url).path == SIGN_IN


def test_one_sign_in_opens_every_admin_and_one_sign_out_closes_them(
    gateway,
    people,
    paid_order,
    desk,
    browser,  # noqa: F811
):
    ops = desk("ops")
    tickets: list[str] = []
    ops.page.on("request", lambda r: "/sso/?ticket=" in r.url and tickets.append(r.url))
    assert front_sign_in(ops, OPS[0]) == ""
    assert listed(ops) == SIX

    for path, title in zip(SIX, TITLES, strict=True):
        ops.page.goto(f"{gateway}/admin/")
        ops.click_through(f'ul.console-admins a[href="{path}"]')
        assert ops.page.url == gateway + path, ops.page.url  # no second sign-in
        assert ops.page.inner_text("#site-name").strip() == f"{title} · Commerce platform"
        ops.shot(f"admin-{title.lower()}")
    assert len(tickets) == 6  # one ticket per admin, through the front page

    # A ticket seen once (in a URL) never works again, in another browser either.
    stranger = browser.new_context()
    answer = stranger.new_page().goto(tickets[0])
    assert answer.status == 403 and answer.json()["error"]["code"] == "ticket_used"
    stranger.close()

    # The order, its payment (in the payment admin) and back.
    page = ops.open(f"/admin/orders/orders/order/{paid_order['id']}/change/", "order")
    ops.click_through(".field-payment a")
    assert (
        page.url == f"{gateway}/admin/payments/payments/payment/{paid_order['payment_id']}/change/"
    )
    ops.shot("payment")
    ops.click_through(".field-order a")
    assert page.url == f"{gateway}/admin/orders/orders/order/{paid_order['id']}/change/"
    ops.shot("order-again")

    # Signing out in one admin signs out of every admin and the front page.
    ops.open("/admin/products/", "products-before-sign-out")
    ops.click_through("#logout-form button[type=submit]")
    ops.shot("signed-out")
    for path in ["/admin/products/", *SIX, "/admin/"]:
        assert signed_out(ops, path), path
    ops.shot("sign-in-again")


def test_an_order_links_to_its_reservation_products_and_customer(
    gateway, people, paid_order, catalogue, desk
):
    """Each link of an order's page is followed into the other admins (with no other sign-in),
    and the reservation's link back to its order."""
    ops = desk("links")
    assert front_sign_in(ops, OPS[0]) == ""
    order_page = f"{gateway}/admin/orders/orders/order/{paid_order['id']}/change/"
    page = ops.open(order_page.removeprefix(gateway), "links-order")

    ops.click_through(".field-reservation a")
    assert re.fullmatch(
        f"{re.escape(gateway)}/admin/inventory/stock/reservation/[^/]+/change/", page.url
    )
    assert page.inner_text("#site-name").strip() == "Inventory · Commerce platform"
    ops.shot("links-reservation")
    ops.click_through(".field-order a")
    assert page.url == order_page

    ops.click_through("td.field-product a")
    mug = catalogue["E2E-MUG-1"]["id"]
    assert page.url == f"{gateway}/admin/products/catalogue/product/{mug}/change/"
    ops.shot("links-product")

    ops.open(order_page.removeprefix(gateway), "links-order-again")
    ops.click_through(".field-customer a")
    assert re.fullmatch(
        f"{re.escape(gateway)}/admin/users/profiles/profile/[^/]+/change/", page.url
    )
    assert page.inner_text("#site-name").strip() == "Customers · Commerce platform"
    ops.shot("links-customer")


def test_support_sees_only_what_support_may_see(gateway, people, paid_order, desk):
    help_desk = desk("support")
    assert front_sign_in(help_desk, HELP[0]) == ""
    assert listed(help_desk) == SIX  # every admin but the gateway's, to look at

    page = help_desk.open(f"/admin/orders/orders/order/{paid_order['id']}/change/", "order")
    assert page.locator("input[name=_save]").count() == 0  # read only
    page = help_desk.open("/admin/payments/payments/payment/", "payments")
    assert page.locator("select[name=action] option[value=refund_selected]").count() == 0
    page = help_desk.open("/admin/auth/", "accounts")
    assert "TOTP" not in page.inner_text("#content-main")  # never second-factor secrets
    answer = help_desk.page.goto(f"{gateway}/admin/products/catalogue/product/add/")
    assert answer.status == 403
    help_desk.shot("product-add-refused")


def test_a_payment_manager_gives_a_one_time_code_before_any_admin_opens(
    gateway, staff, paid_order, desk
):
    finance = desk("finance")
    refusal = front_sign_in(finance, staff["finance"])
    assert refusal.startswith("This account needs a second factor"), refusal
    for path in ("/admin/payments/", "/admin/orders/"):
        assert signed_out(finance, path), path

    assert front_sign_in(finance, staff["finance"], otp=staff["phone"].code()) == ""
    assert listed(finance) == ["/admin/orders/", "/admin/payments/"]
    page = finance.open("/admin/payments/payments/payment/", "payments")
    assert page.locator("select[name=action] option[value=refund_selected]").count() == 1


def test_a_demotion_in_auth_service_shows_at_the_next_click(
    stack, gateway, people, catalogue, desk
):
    demoted = desk("demoted")
    assert front_sign_in(demoted, DEMOTED[0]) == ""
    product = catalogue["E2E-TEE-1"]
    change = f"/admin/products/catalogue/product/{product['id']}/change/"
    page = demoted.open(change, "product-before")
    assert page.locator("input[name=_save]").count() == 1

    stack.shell(
        "auth",
        "from django.contrib.auth.models import Group; from accounts.models import User; "
        f"User.objects.get(email={DEMOTED[0]!r}).groups.remove("
        "Group.objects.get(name='catalogue_manager')); print('done')",
    )

    page = demoted.open(change, "product-after")  # the next click: still in, read only
    assert page.locator("input[name=_save]").count() == 0
    assert re.search(r"/admin/products/catalogue/product/[^/]+/change/$", page.url)
    answer = demoted.page.goto(f"{gateway}/admin/products/catalogue/product/add/")
    assert answer.status == 403
