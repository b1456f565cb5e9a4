"""Ends admin sessions of people deactivated in auth_service, at their next admin request."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.http import HttpResponseRedirect
from django.urls import reverse

from .sessions import SESSION_KEY, session_touch, sign_in_revoked

logger = logging.getLogger(__name__)


class AdminSessionMiddleware:
    """For views of the admin only (nothing else reads the session): one cache read per request
    against the deactivation marker; a revoked session is logged out and sent to the sign-in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or "admin" not in match.app_names:
            return None
        state = request.session.get(SESSION_KEY)
        if not state or not request.user.is_authenticated:
            return None
        if sign_in_revoked(state):
            logger.info(
                "admin_sso.session_revoked",
                extra={"auth_user_id": state["user_id"], "jti": state.get("jti")},
            )
            logout(request)
            messages.warning(
                request, "Your session has ended. Please sign in again.", fail_silently=True
            )
            login = reverse("admin:login", current_app=match.namespace)
            query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
            return HttpResponseRedirect(f"{login}?{query}")
        session_touch(request.session, state)
        return None
