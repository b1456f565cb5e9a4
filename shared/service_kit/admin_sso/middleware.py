"""Every admin request checks the person's staff session (single sign-on) or, for a session
opened without one, the deactivation marker; an ended session is logged out and sent to the
sign-in, changed roles take effect at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse

from .credentials import credential_checker
from .identity import SignInRefused, admit
from .sessions import SESSION_KEY, access_fingerprint, session_touch, sign_in_revoked
from .staff_sessions import session_identity, session_state

logger = logging.getLogger(__name__)


def staff_session_ended(request: HttpRequest) -> str | None:
    """Checks this admin session against its staff session in auth_service (one cache read)
    and brings the signed-in user up to date with the person's current roles. Returns why the
    person must be signed out of this admin (None: they stay)."""
    state: dict[str, Any] = request.session[SESSION_KEY]
    live = session_state(state["sid"])
    if live is None or str(live.get("user_id")) != str(state["user_id"]):
        return "session_ended"
    identity = session_identity(state["sid"], live)
    try:
        admit(identity)
    except SignInRefused as exc:
        return exc.code
    fingerprint = access_fingerprint(identity)
    if state.get("access") != fingerprint:
        # Demoted or promoted in auth_service: the groups follow before this request runs.
        user = credential_checker().user_for(identity)
        if user.pk != request.user.pk:
            return "identity_changed"  # a new email: another shadow user, signed in afresh
        request.user = user  # type: ignore[assignment]  # the settings' user model
        request.session[SESSION_KEY] = {**state, "access": fingerprint}
        logger.info(
            "admin_sso.access_synced",
            extra={"auth_user_id": identity.user_id, "roles": sorted(identity.roles)},
        )
    return None


def sign_out_here(
    request: HttpRequest, reason: str, namespace: str = "admin"
) -> HttpResponseRedirect:
    """Logs the person out of this admin only (the staff session is auth_service's to end) and
    sends the browser to the sign-in, which behind the gateway is the front page's."""
    state = request.session.get(SESSION_KEY) or {}
    logger.info(
        "admin_sso.session_revoked",
        extra={"auth_user_id": state.get("user_id"), "jti": state.get("jti"), "reason": reason},
    )
    request.session[SESSION_KEY] = {**state, "sid": None}  # logout must not end it everywhere
    logout(request)
    messages.warning(request, "Your session has ended. Please sign in again.", fail_silently=True)
    login = reverse("admin:login", current_app=namespace)
    query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
    return HttpResponseRedirect(f"{login}?{query}")


class AdminSessionMiddleware:
    """For views of the admin only (nothing else reads the session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseRedirect | None:
        match = request.resolver_match
        if match is None or "admin" not in match.app_names:
            return None
        state = request.session.get(SESSION_KEY)
        if not state or not request.user.is_authenticated:
            return None
        if state.get("sid"):
            reason = staff_session_ended(request)
        else:
            reason = "revoked" if sign_in_revoked(state) else None
        if reason is not None:
            return sign_out_here(request, reason, match.namespace)
        session_touch(request.session, request.session[SESSION_KEY])
        return None
