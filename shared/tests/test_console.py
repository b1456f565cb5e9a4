"""The staff console's pieces every admin uses: where an admin is, who may open it, money and
addresses as people read them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service_kit.console import (
    address_display,
    admin_href,
    admin_link,
    admin_title,
    admins_open_to,
    money_display,
)
from service_kit.roles import ADMINS, STAFF_ROLES


def test_an_admin_is_named_and_found_through_the_gateway():
    assert admin_title("order") == "Orders · Commerce platform"
    assert admin_href("payment") == "/admin/payments/"
    assert admin_href("payment", "payments", "payment", "p1") == (
        "/admin/payments/payments/payment/p1/change/"
    )
    assert admin_href("order", "orders", "order", query={"status__exact": "PENDING"}) == (
        "/admin/orders/orders/order/?status__exact=PENDING"
    )
    assert admin_link("order", "orders", "order", None) == "-"
    assert admin_link("order", "orders", "order", "o<1>") == (
        '<a href="/admin/orders/orders/order/o&lt;1&gt;/change/">o&lt;1&gt;</a>'
    )


@pytest.mark.parametrize(
    ("roles", "services"),
    [
        (set(), []),
        ({"customer"}, []),
        ({"order_manager"}, ["order"]),
        ({"catalogue_manager", "inventory_manager"}, ["product", "inventory"]),
        ({"support"}, ["auth", "user", "product", "inventory", "order", "payment"]),
        ({"admin"}, list(ADMINS)),
    ],
)
def test_the_roles_open_their_admins(roles, services):
    assert [entry.service for entry in admins_open_to(roles)] == services


def test_every_staff_role_opens_some_admin():
    assert all(admins_open_to({role}) for role in STAFF_ROLES)


def test_money_with_its_currency():
    assert money_display(Decimal("12.5"), "EUR") == "12.50 EUR"
    assert money_display("3", None) == "3.00"
    assert money_display(None, "EUR") == "-"


def test_an_address_as_its_lines_escaped_and_nothing_dropped():
    shown = address_display(
        {
            "name": "Ada <b>Lovelace</b>",
            "line1": "1 Analytical Way",
            "line2": "",
            "city": "London",
            "postal_code": "N1 1AA",
            "country": "GB",
            "note": "ring twice",
        }
    )
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;<br>1 Analytical Way<br>N1 1AA London<br>GB<br>" in shown
    assert "note: ring twice<br>" in shown
    assert address_display({}) == address_display(None) == "-"


def test_a_split_date_and_time_labels_each_of_its_inputs():
    """The field's label names neither input of a split widget: each has its own (axe's rule
    ``label``, e2e test_accessibility)."""
    from django.contrib.admin.widgets import AdminSplitDateTime

    html = AdminSplitDateTime().render("ends_at", None, attrs={"id": "id_ends_at"})
    for part, word in (("0", "Date:"), ("1", "Time:")):
        assert f'<label class="datetime-part" for="id_ends_at_{part}">{word}</label>' in html
        assert f'id="id_ends_at_{part}"' in html
