"""Where each admin is, who may open it, and how one admin names another's objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.utils.html import format_html, format_html_join

from service_kit.roles import ADMINS, PLATFORM_TITLE, STAFF_ROLES

#: The staff front page on the gateway.
FRONT_PAGE = "/admin/"

#: The address fields, in the order a label shows them (the users API's and the orders' alike).
ADDRESS_LINES = (
    ("name",),
    ("line1",),
    ("line2",),
    ("postal_code", "city"),
    ("region",),
    ("country",),
    ("phone",),
)


@dataclass(frozen=True)
class AdminEntry:
    service: str
    title: str
    url: str


@dataclass(frozen=True)
class Figure:
    """One count on the staff front page (``service_kit.console.api``): what needs attention in
    a service, and its admin's list of the rows counted."""

    key: str
    label: str
    count: int
    url: str


def _site(service: str) -> tuple[str, str, tuple[str, ...]]:
    return ADMINS.get(service, (service, service.replace("_", " ").capitalize(), ()))


def admin_title(service: str) -> str:
    """The header every admin shows: ``Orders · Commerce platform``."""
    return f"{_site(service)[1]} · {PLATFORM_TITLE}"


def admin_href(
    service: str,
    app_label: str = "",
    model: str = "",
    pk: Any = None,
    query: Mapping[str, Any] | None = None,
) -> str:
    """The path of a page of ``service``'s admin through the gateway: its index, a model's list
    (with ``query`` as filters) or one object's change page."""
    url = f"/admin/{_site(service)[0]}/"
    if app_label and model:
        url += f"{app_label}/{model}/"
        if pk is not None:
            url += f"{pk}/change/"
    if query:
        url += "?" + urlencode(query)
    return url


def admin_link(service: str, app_label: str, model: str, pk: Any, text: Any = None) -> str:
    """A link to one object in ``service``'s admin, or ``-`` when there is none (``pk`` None)."""
    if pk in (None, ""):
        return "-"
    return format_html(
        '<a href="{}">{}</a>',
        admin_href(service, app_label, model, pk),
        pk if text is None else text,
    )


def staff_roles_of(user: Any) -> set[str]:
    """The staff roles of an admin's signed-in (shadow) user: its groups; a superuser is
    ``admin``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    roles = set(user.groups.filter(name__in=STAFF_ROLES).values_list("name", flat=True))
    if user.is_superuser:
        roles.add("admin")
    return roles


def admins_open_to(roles: Iterable[str]) -> list[AdminEntry]:
    """The admins these roles open, in the platform's order."""
    held = set(roles)
    return [
        AdminEntry(service, title, admin_href(service))
        for service, (_segment, title, allowed) in ADMINS.items()
        if "admin" in held or held & set(allowed)
    ]


def money_display(amount: Decimal | int | str | None, currency: str | None) -> str:
    """``12.50 EUR``; ``-`` for no amount."""
    if amount is None or amount == "":
        return "-"
    return f"{Decimal(amount):.2f} {currency or ''}".rstrip()


def address_display(address: Mapping[str, Any] | None) -> str:
    """A postal address as its lines (HTML, escaped); ``-`` for an empty one. Fields it does not
    know are shown after the known ones, so nothing is hidden."""
    if not address or not isinstance(address, Mapping):
        return "-"
    known = {key for line in ADDRESS_LINES for key in line}
    lines = [
        " ".join(str(address[key]) for key in line if address.get(key)) for line in ADDRESS_LINES
    ]
    lines += [f"{key}: {value}" for key, value in address.items() if key not in known and value]
    return format_html(
        '<address style="font-style: normal">{}</address>',
        format_html_join("", "{}<br>", ((line,) for line in lines if line)),
    )
