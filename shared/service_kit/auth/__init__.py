"""Identity in every service: local JWT verification, token users, permissions, and the tokens
a service calls another with."""

from .permissions import HasRole, HasScope, IsAuthenticated, IsUser
from .service_tokens import service_token
from .verify import (
    KEYSET_VERSION_KEY,
    TokenInvalid,
    TokenUser,
    keyset,
    keyset_changed,
    revoke_client,
    revoke_jti,
    revoke_user,
    revoked_jti_key,
    revoked_user_key,
    token_user,
    verify_token,
)

__all__ = [
    "KEYSET_VERSION_KEY",
    "HasRole",
    "HasScope",
    "IsAuthenticated",
    "IsUser",
    "TokenInvalid",
    "TokenUser",
    "keyset",
    "keyset_changed",
    "revoke_client",
    "revoke_jti",
    "revoke_user",
    "revoked_jti_key",
    "revoked_user_key",
    "service_token",
    "token_user",
    "verify_token",
]
