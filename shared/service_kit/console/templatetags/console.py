"""``{% console_bar %}``: the bar under every admin's header."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from service_kit.console.links import FRONT_PAGE, admins_open_to, staff_roles_of

register = template.Library()


@register.inclusion_tag("console/bar.html", takes_context=True)
def console_bar(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "front_page": FRONT_PAGE,
        "admins": admins_open_to(staff_roles_of(user)),
        "current": context.get("console_current", settings.SERVICE_NAME),
        "signed_in": bool(getattr(user, "is_authenticated", False)),
    }
