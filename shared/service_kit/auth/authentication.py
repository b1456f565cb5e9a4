from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from service_kit.context import user_id_var

from .verify import TokenInvalid, TokenUser, token_user, verify_token


class TokenNotValid(exceptions.AuthenticationFailed):
    """A refused token; ``details`` (the reason) reach the error body like ApplicationError's."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, code="token_not_valid")
        self.details = details


class JWTAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>``, verified locally (see :mod:`.verify`)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, dict[str, Any]] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip() or " " in token.strip():
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="token_not_valid"
            )
        try:
            claims = verify_token(token.strip())
        except TokenInvalid as exc:
            raise TokenNotValid(str(exc), {"reason": exc.reason}) from None
        user = token_user(claims)
        user_id_var.set(user.id or user.client_id)
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
