"""Admin sessions opened through the sign-in: what they remember of it, and when they end.

The session keeps auth_service's user id, the token's ``jti`` and ``iat`` and its ``amr``.
Deactivation in auth_service calls :func:`service_kit.auth.revoke_user`, a marker in the shared
cache that lives a little longer than an access token; a session is over when the marker is
newer than its sign-in (checked at every admin request by the middleware), and an idle session
ends before the marker can have expired unseen.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.http import HttpRequest

from service_kit.auth.verify import revoked_user_key

from .conf import sso_settings
from .identity import Identity

logger = logging.getLogger(__name__)

SESSION_KEY = "admin_sso"
#: An active session is saved again (its idle expiry pushed back) at most this often.
TOUCH_INTERVAL = 60


def revocation_lifetime() -> int:
    """How long :func:`service_kit.auth.revoke_user` keeps its marker (the same sum)."""
    return int(settings.JWT["ACCESS_TOKEN_LIFETIME"]) + 60


def idle_timeout() -> int:
    return int(sso_settings()["IDLE_TIMEOUT"] or revocation_lifetime())


def sign_in_record(*, session: SessionBase, identity: Identity) -> None:
    now = time.time()
    session[SESSION_KEY] = {
        "user_id": identity.user_id,
        "jti": identity.jti,
        "iat": identity.issued_at or now,
        "amr": sorted(identity.amr),
        "seen_at": now,
        **(
            {"sid": identity.session, "access": access_fingerprint(identity)}
            if identity.session
            else {}
        ),
    }
    session.set_expiry(idle_timeout())
    logger.info(
        "admin_sso.signed_in",
        extra={
            "auth_user_id": identity.user_id,
            "jti": identity.jti,
            "roles": sorted(identity.roles),
            "amr": sorted(identity.amr),
        },
    )


def access_fingerprint(identity: Identity) -> list[Any]:
    """What the admin's user was made from: a change of any of it is synced at the next request."""
    return [identity.email, identity.is_staff, sorted(identity.roles), sorted(identity.amr)]


def on_user_logged_in(
    sender: object, request: HttpRequest | None, user: object, **kwargs: object
) -> None:
    """``user_logged_in``: a login made by the sign-in form carries its identity."""
    identity = getattr(user, "admin_sso_identity", None)
    if identity is not None and request is not None:
        sign_in_record(session=request.session, identity=identity)


def on_user_logged_out(
    sender: object, request: HttpRequest | None, user: object, **kwargs: object
) -> None:
    """``user_logged_out``: signing out of one admin signs the person out of every admin."""
    state = request.session.get(SESSION_KEY) if request is not None else None
    if state and state.get("sid"):
        from .credentials import credential_checker

        credential_checker().session_end(state["sid"])
        logger.info("admin_sso.signed_out", extra={"auth_user_id": state.get("user_id")})


def sign_in_revoked(state: dict[str, Any]) -> bool:
    """Whether the person was deactivated (or erased) since this session's sign-in: one read."""
    cutoff = cache.get(revoked_user_key(str(state["user_id"])))
    return cutoff is not None and float(cutoff) >= float(state["iat"])


def session_touch(session: SessionBase, state: dict[str, Any]) -> None:
    now = time.time()
    if now - float(state.get("seen_at", 0)) >= TOUCH_INTERVAL:
        session[SESSION_KEY] = {**state, "seen_at": now}  # saved: the idle expiry starts again
