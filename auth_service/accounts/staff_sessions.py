"""Staff sessions (single sign-on across the admins): opened at a sign-in, a ticket per admin
opened, the state every admin checks published in the shared cache, ended everywhere at once.
The kit's side: ``service_kit.admin_sso.staff_sessions``."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta

import jwt
from django.conf import settings
from django.utils import timezone
from keys.services import active_key

from service_kit.admin_sso import (
    SESSION_LIFETIME,
    TICKET_LIFETIME,
    TICKET_TYPE,
    session_forget,
    session_publish,
    ticket_audience,
)
from service_kit.roles import ADMINS

from .models import StaffSession, User
from .tokens import roles_of

logger = logging.getLogger(__name__)


def _state(session: StaffSession) -> dict:
    user = session.user
    return {
        "user_id": str(user.pk),
        "email": user.email,
        "is_staff": user.is_staff,
        "is_active": user.is_active,
        "roles": roles_of(user),
        "amr": list(session.amr),
    }


def _publish(session: StaffSession) -> None:
    session_publish(str(session.pk), _state(session), expires_at=session.expires_at.timestamp())


def _live(session_id: str) -> StaffSession | None:
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return None
    return (
        StaffSession.objects.select_related("user")
        .filter(pk=key, ended_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def staff_session_open(*, user: User, amr: Iterable[str]) -> StaffSession:
    """A staff member signed in at an admin: their session in every admin."""
    session = StaffSession.objects.create(
        user=user,
        amr=sorted(set(amr)),
        expires_at=timezone.now() + timedelta(seconds=SESSION_LIFETIME),
    )
    _publish(session)
    logger.info("auth.staff_session_opened", extra={"user_id": str(user.pk)})
    return session


def staff_ticket(*, session_id: str, audience: str) -> str | None:
    """A ticket signing the session's person in to the admin of ``audience`` (a service with
    an admin), good once and for :data:`TICKET_LIFETIME` seconds; None for a session that is
    over (ended, expired, its person deactivated)."""
    session = _live(session_id)
    if session is None or not session.user.is_active or not session.user.is_staff:
        return None
    _publish(session)  # the admin reads it next: never older than the ticket
    key, now = active_key(), time.time()
    claims = {
        "iss": settings.JWT["ISSUER"],
        "aud": ticket_audience(audience),
        "token_type": TICKET_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": round(now, 6),
        "exp": int(now) + TICKET_LIFETIME,
        "sid": str(session.pk),
        "user_id": str(session.user_id),
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def staff_session_end(*, session_id: str) -> None:
    """Signed out in one admin: signed out of all (idempotent)."""
    session = _live(session_id)
    if session is None:
        return
    StaffSession.objects.filter(pk=session.pk).update(ended_at=timezone.now())
    session_forget(str(session.pk))
    logger.info("auth.staff_session_ended", extra={"user_id": str(session.user_id)})


def staff_sessions_end(*, user: User) -> None:
    """Deactivation, erasure, a password change: every staff session of the person ends."""
    ids = list(
        StaffSession.objects.filter(user=user, ended_at__isnull=True).values_list("pk", flat=True)
    )
    StaffSession.objects.filter(pk__in=ids).update(ended_at=timezone.now())
    for pk in ids:
        session_forget(str(pk))


def staff_sessions_republish(*, user_ids: Iterable[str]) -> None:
    """The people's access changed: every admin reads their new roles at its next request."""
    for session in StaffSession.objects.select_related("user").filter(
        user_id__in=list(user_ids), ended_at__isnull=True, expires_at__gt=timezone.now()
    ):
        _publish(session)


#: The services whose admin a ticket may be for.
TICKET_AUDIENCES = tuple(service for service in ADMINS if service != "gateway")
