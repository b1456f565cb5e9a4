"""Reads of auth_service."""

from __future__ import annotations

import uuid

from rest_framework.exceptions import NotFound

from .models import IssuedRefreshToken, User


def user_get(*, user_id: str | None) -> User:
    """The active account a token names; 404 when there is none (erased, deactivated, or a
    token from another issuer's test key)."""
    try:
        pk = uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound("No such account.") from None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise NotFound("No such account.")
    return user


def account_get(*, user_id: uuid.UUID) -> User:
    """Any account by id, deactivated and erased ones included (staff and services: another
    service making its own record of the user before an event about them arrived)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such account.")
    return user


def refresh_tokens_expired(*, now):
    """Records of refresh tokens past their expiry (the retention purge's): such a token is
    refused by its own ``exp`` before its record is read, so the record no longer matters."""
    return IssuedRefreshToken.objects.filter(expires_at__lt=now)
