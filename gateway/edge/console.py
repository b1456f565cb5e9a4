"""The staff front page at ``/admin/``: one sign-in, then the admins the person's roles open.

Not signed in, it sends the browser to the gateway admin's sign-in (the kit's staff sign-in
through auth_service: email, password, a one-time code for ``MFA_ROLES``; the edge throttles it
like every admin's sign-in and auth_service locks the account out), which comes back here. The
page lists the admins of ``service_kit.roles.ADMINS`` the person's current roles open, with the
same header, bar and sign-out as every admin (``service_kit.console``), and their live figures
and recent staff actions (``edge.figures``).

It is also where single sign-on starts (``service_kit.admin_sso.views``): an admin's sign-in
sends the browser here with ``?to=/admin/<segment>/…``, and the front page sends it on to that
admin's ``sso/`` with a single-use ticket auth_service signs for that admin alone.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from service_kit.admin_sso import (
    ADMIN_NOT_OPEN,
    BINDING_COOKIE,
    SESSION_KEY,
    SESSION_LIFETIME,
    SignInRefused,
    admin_open,
    credential_checker,
    invalid_redirect,
    local_path,
    session_binding,
    sign_out_here,
    staff_session_ended,
)
from service_kit.api import error_response
from service_kit.console import admin_href, admins_open_to, staff_roles_of
from service_kit.roles import ADMINS, PLATFORM_TITLE

from . import figures

#: ``/admin/<segment>/…`` → the service whose admin it is (the gateway's own needs no ticket).
SEGMENT_SERVICES = {segment: service for service, (segment, _, _) in ADMINS.items()}
_ADMIN_PATH = re.compile(r"^/admin/([a-z]+)/")


def front_page(request: HttpRequest) -> HttpResponse:
    if not admin.site.has_permission(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if request.session.get(SESSION_KEY, {}).get("sid"):
        reason = staff_session_ended(request)
        if reason is not None:
            return sign_out_here(request, reason)
    roles = staff_roles_of(request.user)
    if "to" in request.GET:
        return admin_open_with_ticket(request, request.GET["to"], roles)
    admins = admins_open_to(roles)
    context = {
        **admin.site.each_context(request),
        "title": "Staff front page",
        "site_header": PLATFORM_TITLE,
        "console_current": "",  # not the gateway's admin: every admin is a link here
        "roles": sorted(roles),
        "admins": admins,
        **figures.front_page_context(request, admins),
    }
    return TemplateResponse(request, "console/front_page.html", context)


def admin_open_with_ticket(request: HttpRequest, to: str, roles: set[str]) -> HttpResponse:
    """``?to=/admin/orders/…``: on to that admin with a ticket for it (CAS's ``?service=``)."""
    found = _ADMIN_PATH.match(to) if local_path(to, "/admin/") else None
    service = SEGMENT_SERVICES.get(found.group(1)) if found else None
    if service is None:
        return invalid_redirect()
    if service == "gateway":
        return HttpResponseRedirect(to)  # this session is the gateway admin's already
    if not admin_open(service, roles):
        return error_response(403, ADMIN_NOT_OPEN, "Your roles do not open this admin.")
    session = request.session[SESSION_KEY].get("sid")
    try:
        ticket = credential_checker().ticket(session, service) if session else None
    except SignInRefused as exc:
        return error_response(503, exc.code, exc.message)
    if ticket is None:  # signed out elsewhere meanwhile, or a session from before single sign-on
        return sign_out_here(request, "session_ended")
    query = urlencode({"ticket": ticket, "next": to})
    response = HttpResponseRedirect(f"{admin_href(service)}sso/?{query}")
    # This browser's binding to the session: only it can redeem the ticket (no login CSRF).
    response.set_cookie(
        BINDING_COOKIE,
        session_binding(session),
        max_age=SESSION_LIFETIME,
        path=request.path,  # the front page, /admin/: every admin under it
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response
