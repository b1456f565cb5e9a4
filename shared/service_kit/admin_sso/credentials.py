"""Credential checkers: what turns an email, a password and a one-time code into an
:class:`~.identity.Identity`.

Every service asks auth_service over REST (:class:`RemoteCredentials`) and signs the person in
as a shadow user; auth_service, whose users are the real ones, plugs in a checker of its own
(``use_credentials("mfa.credentials.LocalCredentials")`` in an app's ``ready()``), so one login
form serves both.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from service_kit.api.errors import UpstreamTimeout, UpstreamUnavailable
from service_kit.auth.verify import TokenInvalid, verify_token
from service_kit.http import ServiceClient
from service_kit.ops.forwarded import client_address

from .conf import sso_settings
from .identity import (
    INVALID_CREDENTIALS,
    THROTTLED,
    UNAVAILABLE,
    Identity,
    SignInRefused,
    admit,
)
from .shadow import shadow_user_sync

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

TOKEN_PATH = "/api/v1/auth/token/"  # noqa: S105 - a URL path, not a secret
LOGOUT_PATH = "/api/v1/auth/logout/"
#: auth_service's staff sessions (single sign-on): on the services' own network only, the
#: gateway routes nothing outside /api/ and /admin/ there.
STAFF_SESSIONS_PATH = "/internal/staff-sessions/"


class CredentialChecker:
    """Checks what was typed at an admin's sign-in and says who it is."""

    def verify(
        self, request: HttpRequest | None, *, email: str, password: str, otp: str
    ) -> Identity:
        """The identity, or :class:`SignInRefused`."""
        raise NotImplementedError

    def user_for(self, identity: Identity) -> AbstractBaseUser:
        """The local user to sign in (an admitted identity): its shadow user by default."""
        return shadow_user_sync(identity)

    def ticket(self, session: str, service: str) -> str | None:
        """A single-use ticket signing this staff session's person in to ``service``'s admin;
        None once the session has ended (or its person may no longer enter)."""
        raise NotImplementedError

    def session_end(self, session: str) -> None:
        """Sign the person out of every admin: the staff session ends in auth_service."""
        raise NotImplementedError


class RemoteCredentials(CredentialChecker):
    """auth_service's token endpoint, through the kit's client (timeouts, circuit breaker); the
    access token it returns is verified here from the JWKS like any API token."""

    def __init__(self, upstream: str = "auth") -> None:
        self.upstream = upstream

    def verify(
        self, request: HttpRequest | None, *, email: str, password: str, otp: str
    ) -> Identity:
        body = {"email": email, "password": password, **({"otp": otp} if otp else {})}
        client = ServiceClient(self.upstream)
        try:
            response = client.post(TOKEN_PATH, json=body, headers=self._forwarded_for(request))
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            raise SignInRefused(UNAVAILABLE) from exc
        if response.status == 429:
            raise SignInRefused(THROTTLED)
        if response.status in (400, 401):
            raise SignInRefused(INVALID_CREDENTIALS)
        if response.status != 200:
            logger.warning("admin_sso.upstream_refused", extra={"status": response.status})
            raise SignInRefused(UNAVAILABLE)
        try:
            pair = response.json()
            claims = verify_token(pair["access"])
        except (ValueError, KeyError, TypeError, TokenInvalid) as exc:
            logger.warning("admin_sso.token_not_valid", extra={"error": str(exc)[:200]})
            raise SignInRefused(UNAVAILABLE) from exc
        identity = Identity.from_claims(claims)
        try:
            admit(identity)  # a staff session only for whom the admins let in
            session = self._session_open(pair["access"])
        finally:
            self._discard(pair, claims)
        return dataclasses.replace(identity, session=session)

    def _session_open(self, access: str) -> str:
        client = ServiceClient(self.upstream, token=access)
        try:
            response = client.post(STAFF_SESSIONS_PATH, json={})
            if response.status == 201:
                return str(response.json()["session"])
        except (UpstreamUnavailable, UpstreamTimeout, ValueError, KeyError, TypeError) as exc:
            raise SignInRefused(UNAVAILABLE) from exc
        logger.warning("admin_sso.session_not_opened", extra={"status": response.status})
        raise SignInRefused(UNAVAILABLE)

    def ticket(self, session: str, service: str) -> str | None:
        client = ServiceClient(self.upstream)
        body = {"session": session, "audience": service}
        try:
            response = client.post(f"{STAFF_SESSIONS_PATH}ticket/", json=body)
            if response.status == 200:
                return str(response.json()["ticket"])
        except (UpstreamUnavailable, UpstreamTimeout, ValueError, KeyError, TypeError) as exc:
            raise SignInRefused(UNAVAILABLE) from exc
        if response.status in (403, 404):
            return None
        logger.warning("admin_sso.ticket_refused", extra={"status": response.status})
        raise SignInRefused(UNAVAILABLE)

    def session_end(self, session: str) -> None:
        client = ServiceClient(self.upstream)
        try:
            response = client.post(f"{STAFF_SESSIONS_PATH}end/", json={"session": session})
        except (UpstreamUnavailable, UpstreamTimeout):
            response = None
        if response is None or response.status != 204:
            # Signed out here all the same; the other admins end at the session's expiry.
            logger.warning(
                "admin_sso.session_not_ended", extra={"status": getattr(response, "status", None)}
            )

    @staticmethod
    def _forwarded_for(request: HttpRequest | None) -> dict[str, str]:
        """auth_service's sign-in guard counts failures per client address. For this sign-in
        the service is the proxy in front of auth_service, so it says whom it serves, as the
        gateway does: the person's address (read behind this service's trusted proxies, so a
        client cannot choose it), not the service's own, which anonymous guesses would lock
        out for every staff member of this admin."""
        address = client_address(request.META) if request is not None else ""
        return {"X-Forwarded-For": address} if address else {}

    def _discard(self, pair: dict[str, Any], claims: dict[str, Any]) -> None:
        """The pair only told us who signed in: log it out at once, so that no refresh token
        (good for days) outlives the sign-in. Best effort: the session does not depend on it."""
        client = ServiceClient(self.upstream, token=pair["access"])
        try:
            response = client.post(LOGOUT_PATH, json={"refresh": pair.get("refresh", "")})
        except (UpstreamUnavailable, UpstreamTimeout):
            response = None
        if response is None or response.status != 204:
            logger.warning(
                "admin_sso.token_not_discarded",
                extra={"jti": claims.get("jti"), "status": getattr(response, "status", None)},
            )


_registered: CredentialChecker | str | None = None


def use_credentials(checker: CredentialChecker | str | None) -> None:
    """Make ``checker`` (or its dotted path, loaded on first use) this process's checker,
    unless ``ADMIN_SSO["CREDENTIALS"]`` names one. ``None`` goes back to the default."""
    global _registered
    _registered = checker


def credential_checker() -> CredentialChecker:
    checker = sso_settings()["CREDENTIALS"] or _registered
    if checker is None:
        return RemoteCredentials()
    if isinstance(checker, str):
        loaded: CredentialChecker = import_string(checker)()
        return loaded
    return checker
