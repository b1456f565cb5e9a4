from __future__ import annotations

from rest_framework import authentication, exceptions

from service_kit.ops.context import user_id_var

from .verify import TokenInvalid, token_user, verify


class JWTAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>``, verified locally (see :mod:`.verify`)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip() or " " in token.strip():
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="token_not_valid"
            )
        try:
            claims = verify(token.strip())
        except TokenInvalid as exc:
            error = exceptions.AuthenticationFailed(str(exc), code="token_not_valid")
            error.details = {"reason": exc.reason}
            raise error from None
        user = token_user(claims)
        user_id_var.set(user.id or user.client_id)
        return user, claims

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
