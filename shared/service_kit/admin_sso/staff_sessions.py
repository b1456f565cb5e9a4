"""Single sign-on across the admins: one staff session, tickets that carry it to each admin.

A sign-in at any admin (the staff front page's is the gateway admin's) opens a *staff session*
in auth_service. auth_service publishes its state in the shared cache (who, current roles, staff
flag, active, ``amr``) and publishes it again whenever the person's access changes, and removes
it when the session ends (a sign-out in any admin, a deactivation, a password change). Each
admin reads it at every request (one cache read, as for the revocation list): a session that is
gone signs the person out of that admin, changed roles take effect at once.

The front page opens another admin with a *ticket* (like a CAS service ticket): an RS256 JWT
auth_service signs with its token keys (which every admin already trusts), of ``token_type``
:data:`TICKET_TYPE`, meant for one admin only (``aud``: :func:`ticket_audience`), good for
:data:`TICKET_LIFETIME` seconds and once: its ``jti`` is remembered in the shared cache until it
expires, so no admin accepts it twice.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django.core.cache import cache

from service_kit.auth.verify import TokenInvalid, jwt_settings, verify_token

from .identity import Identity

TICKET_TYPE = "admin_ticket"
#: Seconds a ticket is good for (its ``exp``; the tokens' leeway still applies).
TICKET_LIFETIME = 30
#: Seconds a staff session lives at most, however active (auth_service's record and its state).
SESSION_LIFETIME = 12 * 3600


def state_key(session: str) -> str:
    return f"auth:staff-session:{session}"


def ticket_used_key(jti: str) -> str:
    return f"auth:admin-ticket:used:{jti}"


def ticket_audience(service: str) -> str:
    """A ticket's ``aud``: the admin of this service alone."""
    return f"admin:{service}"


def session_state(session: str) -> dict[str, Any] | None:
    """The staff session's state as auth_service last published it; None once it has ended."""
    state = cache.get(state_key(session)) if session else None
    return state if isinstance(state, dict) else None


def session_publish(session: str, state: dict[str, Any], *, expires_at: float) -> None:
    """auth_service: the session's current state, until the session expires."""
    cache.set(state_key(session), state, timeout=max(int(expires_at - time.time()), 1))


def session_forget(session: str) -> None:
    cache.delete(state_key(session))


def session_identity(session: str, state: dict[str, Any]) -> Identity:
    """Who the person is now, by the staff session's state."""
    return Identity(
        user_id=str(state["user_id"]),
        email=str(state.get("email") or ""),
        is_staff=bool(state.get("is_staff")),
        roles=frozenset(state.get("roles") or ()),
        amr=frozenset(state.get("amr") or ()),
        issued_at=time.time(),
        session=session,
        active=bool(state.get("is_active")),
    )


class TicketRefused(Exception):
    """``code``: a stable word for the error's body and the logs."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


#: The browser's binding to its staff session: set by the front page (path ``/admin/``) when it
#: hands out a ticket, checked by the admin that redeems it. A ticket in a link someone else was
#: given (a sign-in forced on them, CAS's "login CSRF") is refused: their browser holds no binding
#: to the ticket's session. It holds a digest, never the session id (which asks for tickets).
BINDING_COOKIE = "staff_sso_binding"


def session_binding(session: str) -> str:
    return hashlib.sha256(f"staff-sso-binding:{session}".encode()).hexdigest()


def ticket_redeem(
    ticket: str, *, service: str, binding: str | None = None
) -> tuple[dict[str, Any], Identity]:
    """The ticket's claims and the person it signs in to ``service``'s admin, once. Refused
    (:class:`TicketRefused`): a ticket that is not valid (signature, expired, another admin's,
    not a ticket), already used, not bound to this browser (``binding``, the cookie's value),
    or whose staff session has ended."""
    try:
        claims = verify_token(ticket, token_type=TICKET_TYPE, audience=ticket_audience(service))
    except TokenInvalid as exc:
        raise TicketRefused(f"ticket_{exc.reason}", str(exc)) from None
    session, user_id = claims.get("sid"), claims.get("user_id")
    if not isinstance(session, str) or not session or not user_id:
        raise TicketRefused("ticket_malformed", "The ticket names no staff session.")
    remember = int(float(claims["exp"]) - time.time()) + int(jwt_settings()["LEEWAY"]) + 1
    if not cache.add(ticket_used_key(claims["jti"]), 1, timeout=max(remember, 1)):
        raise TicketRefused("ticket_used", "This ticket was already used.")
    if not hmac.compare_digest(binding or "", session_binding(session)):
        raise TicketRefused("ticket_not_bound", "This ticket was issued to another browser.")
    state = session_state(session)
    if state is None or str(state.get("user_id")) != str(user_id):
        raise TicketRefused("session_ended", "Your staff session has ended. Sign in again.")
    return claims, session_identity(session, state)
