"""Single sign-on in each admin: the sign-in is the front page's, tickets open the session.

Behind the gateway (a forwarded prefix such as ``/admin/orders``) the sign-in page of an admin
the front page knows (``service_kit.roles.ADMINS``) sends
the browser to the staff front page with ``?to=<the page asked for>``; the front page, once the
person is signed in there, sends it back to this admin's ``sso/`` with a ticket
(:mod:`.staff_sessions`), which signs the person in here and goes on to the page. Reached
directly (no prefix: a service on its own, tests), the admin keeps its own sign-in form, which
opens a staff session all the same.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from service_kit.api.errors import error_response
from service_kit.console.links import FRONT_PAGE, admins_open_to
from service_kit.ops.forwarded import forwarded_prefix
from service_kit.roles import ADMINS

from .credentials import credential_checker
from .identity import SignInRefused, admit
from .staff_sessions import BINDING_COOKIE, TicketRefused, ticket_redeem

logger = logging.getLogger(__name__)

INVALID_REDIRECT = "invalid_redirect"
ADMIN_NOT_OPEN = "admin_not_open"
_UNSAFE = re.compile(r"[\\\x00-\x20\x7f]")


def local_path(url: str, under: str) -> bool:
    """Whether ``url`` is a plain path of this site under ``under`` (no scheme, no host, no
    ``//``, no backslash or control character a browser could read as another host)."""
    return (
        bool(url)
        and url.startswith(under)
        and not url.startswith("//")
        and not _UNSAFE.search(url)
        and "/../" not in url
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )


def admin_open(service: str, roles: frozenset[str] | set[str]) -> bool:
    """Whether these roles open ``service``'s admin (``service_kit.roles.ADMINS``)."""
    return any(entry.service == service for entry in admins_open_to(roles))


def invalid_redirect() -> HttpResponse:
    return error_response(
        400, INVALID_REDIRECT, "The page to go to is not a page of this admin (no redirect)."
    )


def sso_login(login_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The admin's sign-in, behind the gateway: the front page's (single sign-on)."""

    def view(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        prefix, service = forwarded_prefix.get(), settings.SERVICE_NAME
        if not prefix or request.method != "GET" or service == "gateway" or service not in ADMINS:
            return login_view(request, extra_context)
        home = f"{prefix}/"
        wanted = request.GET.get("next") or home
        if not local_path(wanted, home):
            wanted = home
        return HttpResponseRedirect(f"{FRONT_PAGE}?{urlencode({'to': wanted})}")

    return view


def sso_redeem(request: HttpRequest) -> HttpResponse:
    """``sso/?ticket=…&next=…``: the front page's ticket signs the person in to this admin."""
    service = settings.SERVICE_NAME
    home = reverse("admin:index")
    wanted = request.GET.get("next") or home
    if not local_path(wanted, home):
        return invalid_redirect()
    ticket = request.GET.get("ticket", "")
    if not ticket or len(ticket) > 8192:
        return error_response(400, "ticket_missing", "A sign-in ticket is required.")
    try:
        binding = request.COOKIES.get(BINDING_COOKIE)
        claims, identity = ticket_redeem(ticket, service=service, binding=binding)
        admit(identity)
    except (TicketRefused, SignInRefused) as exc:
        logger.info("admin_sso.ticket_refused", extra={"reason": exc.code})
        return error_response(403, exc.code, exc.message)
    if service != "gateway" and not admin_open(service, identity.staff_roles):
        return error_response(403, ADMIN_NOT_OPEN, "Your roles do not open this admin.")
    identity = dataclasses.replace(identity, jti=claims["jti"], issued_at=float(claims["iat"]))
    user = credential_checker().user_for(identity)
    user.admin_sso_identity = identity  # type: ignore[attr-defined]  # read by sessions.on_user_logged_in
    # the settings' user model (a shadow user, or auth_service's own): the stubs know auth.User
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # type: ignore[arg-type]
    return HttpResponseRedirect(wanted)


def admin_urls_with_sso(
    get_urls: Callable[[], list[URLPattern | URLResolver]],
) -> Callable[[], list[URLPattern | URLResolver]]:
    """The admin site's URLs with ``sso/`` first (in the admin's namespace: ``admin:sso``)."""

    def urls() -> list[URLPattern | URLResolver]:
        return [path("sso/", sso_redeem, name="sso"), *get_urls()]

    return urls
