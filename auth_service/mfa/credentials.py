"""auth_service's own admin sign-in: the kit's login form, credentials checked in process.

The same checks as ``POST /api/v1/auth/token/`` (the sign-in guard, the password, the one-time
code), so the admission rules see the same claims as in every other service; the pair made on
the way is logged out at once.
"""

from __future__ import annotations

import dataclasses
import logging

from accounts.models import User
from accounts.services import logout, token_obtain
from accounts.staff_sessions import staff_session_end, staff_session_open, staff_ticket
from rest_framework.exceptions import AuthenticationFailed, Throttled

from service_kit.admin_sso import (
    INVALID_CREDENTIALS,
    THROTTLED,
    CredentialChecker,
    Identity,
    SignInRefused,
    admit,
    role_groups_sync,
)
from service_kit.auth import verify_token
from service_kit.ops import client_address

logger = logging.getLogger(__name__)


class LocalCredentials(CredentialChecker):
    def verify(self, request, *, email: str, password: str, otp: str) -> Identity:
        address = client_address(request.META) if request is not None else ""
        try:
            pair = token_obtain(
                email=email, password=password, otp=otp, address=address, request=request
            )
        except Throttled as exc:
            raise SignInRefused(THROTTLED) from exc
        except AuthenticationFailed as exc:
            raise SignInRefused(INVALID_CREDENTIALS) from exc
        claims = verify_token(pair["access"])
        logout(refresh=pair["refresh"], access_claims=claims)
        identity = Identity.from_claims(claims)
        admit(identity)  # a staff session only for whom the admins let in
        session = staff_session_open(user=User.objects.get(pk=identity.user_id), amr=identity.amr)
        return dataclasses.replace(identity, session=str(session.pk))

    def user_for(self, identity: Identity) -> User:
        """The real user; the groups of its roles get their permissions from the setting."""
        role_groups_sync(identity.staff_roles)
        return User.objects.get(pk=identity.user_id)

    def ticket(self, session: str, service: str) -> str | None:
        return staff_ticket(session_id=session, audience=service)

    def session_end(self, session: str) -> None:
        staff_session_end(session_id=session)
