"""Identity in every service: local JWT verification, token users, permissions."""

from .verify import (
    ROLES,
    STAFF_ROLES,
    TokenInvalid,
    TokenUser,
    keyset,
    revoke_client,
    revoke_jti,
    revoke_user,
    token_user,
    verify,
)

__all__ = [
    "ROLES",
    "STAFF_ROLES",
    "TokenInvalid",
    "TokenUser",
    "keyset",
    "revoke_client",
    "revoke_jti",
    "revoke_user",
    "token_user",
    "verify",
]
