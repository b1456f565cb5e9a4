"""SimpleJWT tokens signed RS256 with the active rotating key (``kid`` in the header).

Services verify access tokens with the kit (JWKS); auth_service verifies refresh tokens with the
same key set here. Claims: ``iss``, ``aud``, ``jti``, ``exp``, ``iat``, ``user_id``, ``email``,
``is_staff``, ``roles``, ``token_type``.

SimpleJWT's own settings (``SIMPLE_JWT``) stay at their defaults: the classes here set the
signing backend and the lifetimes, and ``services.token_refresh`` rotates refresh tokens and
detects their reuse itself (SimpleJWT's views, blacklist and authentication are not used).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import jwt
from django.conf import settings
from keys.services import active_key
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.tokens import AccessToken as BaseAccessToken
from rest_framework_simplejwt.tokens import RefreshToken as BaseRefreshToken

from service_kit.auth import TokenInvalid, keyset
from service_kit.roles import CUSTOMER, ROLES

from .models import IssuedRefreshToken


class RotatingKeyBackend(TokenBackend):
    def __init__(self) -> None:
        super().__init__(algorithm="RS256")

    def encode(self, payload: dict) -> str:
        options = settings.JWT
        key = active_key()
        claims = {**payload, "iss": options["ISSUER"], "aud": options["AUDIENCE"]}
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    # SimpleJWT annotates the encoded token it passes as its Token class; it is the str.
    def decode(self, token: str, verify: bool = True) -> dict:  # type: ignore[override]
        options = settings.JWT
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise TokenBackendError("Token algorithm is not accepted.")
            return jwt.decode(
                token,
                keyset.get(header.get("kid") or ""),
                algorithms=["RS256"],
                audience=options["AUDIENCE"],
                issuer=options["ISSUER"],
                leeway=options["LEEWAY"],
                options={"verify_signature": verify, "require": ["exp", "jti", "token_type"]},
            )
        except (jwt.PyJWTError, TokenInvalid) as exc:
            raise TokenBackendError("Token is invalid or expired") from exc


backend = RotatingKeyBackend()


def roles_of(user) -> list[str]:
    roles = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    if user.is_superuser:
        roles.add("admin")
    if not user.is_staff:
        roles = {CUSTOMER}
    return sorted(roles)


class SubSecondIat:
    """``iat`` with sub-second precision (a JWT NumericDate may be fractional): a revocation at
    12:00:00.4 must refuse tokens issued at 12:00:00.1 yet accept one issued at 12:00:00.7."""

    payload: dict[str, Any]  # the Token's, which this is mixed into
    current_time: datetime

    def set_iat(self, claim: str = "iat", at_time: datetime | None = None) -> None:
        self.payload[claim] = round((at_time or self.current_time).timestamp(), 6)


class AccessToken(SubSecondIat, BaseAccessToken):
    _token_backend = backend
    lifetime = timedelta(seconds=settings.JWT["ACCESS_TOKEN_LIFETIME"])


class RefreshToken(SubSecondIat, BaseRefreshToken):
    _token_backend = backend
    access_token_class = AccessToken
    lifetime = timedelta(seconds=settings.JWT["REFRESH_TOKEN_LIFETIME"])

    @property
    def access_token(self) -> AccessToken:
        """SimpleJWT dates the access token's ``exp`` from this token's clock but its ``iat`` from
        its own, a few milliseconds later; one issue time for both keeps the lifetime exact."""
        # access_token_class: ours (the stubs say SimpleJWT's)
        access = cast(AccessToken, super().access_token)
        access.set_iat(at_time=self.current_time)
        return access

    @classmethod
    def for_user(cls, user, *, amr: list[str] | None = None) -> RefreshToken:
        """``amr``: how the person signed in (RFC 8176): ``["pwd"]`` or ``["pwd", "otp"]``."""
        token = cast(RefreshToken, super().for_user(user))  # built as cls(): ours
        token["email"] = user.email
        token["is_staff"] = user.is_staff
        token["roles"] = roles_of(user)
        token["amr"] = list(amr or ["pwd"])
        return token


def token_pair(
    user, *, amr: list[str] | None = None, family: uuid.UUID | None = None
) -> dict[str, str]:
    """A new pair, its refresh token recorded by ``jti`` (never its text) in ``family``: the
    sign-in it descends from (a new one unless this is a refresh)."""
    refresh = RefreshToken.for_user(user, amr=amr)
    access = refresh.access_token
    IssuedRefreshToken.objects.create(
        jti=refresh["jti"],
        user=user,
        family=family or uuid.uuid4(),
        access_jti=access["jti"],
        issued_at=datetime.fromtimestamp(refresh["iat"], UTC),
        expires_at=datetime.fromtimestamp(refresh["exp"], UTC),
    )
    return {"access": str(access), "refresh": str(refresh)}
