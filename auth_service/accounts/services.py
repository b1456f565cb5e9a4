"""Writes of auth_service: sign-in, token refresh and logout."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from service_kit.auth.verify import revoke_jti

from . import guard
from .models import User
from .tokens import RefreshToken, token_pair

INVALID_CREDENTIALS = "invalid_credentials"


def token_obtain(*, email: str, password: str, address: str, request=None) -> dict[str, str]:
    """A token pair for valid credentials. One answer for a wrong password and an unknown email,
    so the error does not tell which accounts exist."""
    guard.check(email, address)
    user = authenticate(request, email=email.strip().lower(), password=password)
    if user is None or not user.is_active:
        guard.failed(email, address)
        raise AuthenticationFailed(
            "No active account with these credentials.", code=INVALID_CREDENTIALS
        )
    guard.succeeded(email)
    return token_pair(user)


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # signature, expiry, type and the blacklist
    except TokenError as exc:
        raise AuthenticationFailed(str(exc), code="token_not_valid") from exc


@transaction.atomic
def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: the old refresh token is blacklisted; claims are read afresh from the user."""
    old = _refresh_token(refresh)
    user = User.objects.filter(pk=old["user_id"], is_active=True).first()
    try:
        old.blacklist()
    except TokenError as exc:
        raise AuthenticationFailed(str(exc), code="token_not_valid") from exc
    if user is None:
        raise AuthenticationFailed("The account is not active.", code="token_not_valid")
    return token_pair(user)


@transaction.atomic
def logout(*, refresh: str, access_claims: dict) -> None:
    """Blacklist the refresh token and revoke the access token's ``jti`` everywhere."""
    token = _refresh_token(refresh)
    if str(token["user_id"]) != str(access_claims.get("user_id")):
        raise AuthenticationFailed("The refresh token is not yours.", code="token_not_valid")
    token.blacklist()
    revoke_jti(access_claims["jti"], access_claims["exp"])


def revoke_all_refresh_tokens(user: User) -> None:
    for outstanding in OutstandingToken.objects.filter(user=user):
        BlacklistedToken.objects.get_or_create(token=outstanding)
