"""Access-token verification in every service, with no call to auth_service and no user table.

Tokens are RS256 JWTs signed by auth_service. Public keys come from its JWKS document, kept in
memory and fetched again when a token names a key we do not know (rotation), at most once a
second. The only shared state is the revocation list in the shared cache: a revoked ``jti``, or a
user whose tokens issued before a moment are all refused (deactivation, erasure, password change).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)


class TokenInvalid(Exception):
    """The token is refused; ``reason`` is a stable word for logs and the error's details."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def jwt_settings() -> dict[str, Any]:
    return settings.JWT


class KeySet:
    """The issuer's public keys by ``kid``, from its JWKS document."""

    MIN_REFRESH_INTERVAL = 1.0

    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.version: Any = None  # the issuer's key-set version this copy was fetched at

    def invalidate(self, version: Any) -> None:
        """The issuer changed its keys (rotation, retirement): fetch them on the next token."""
        self.version = version
        self._fetched_at = float("-inf")

    def install(self, jwks: dict[str, Any]) -> None:
        """Use this JWKS document (tests, or a static key set from settings)."""
        keys = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                keys[jwk["kid"]] = RSAAlgorithm.from_jwk(json.dumps(jwk))
        self._keys = keys
        self._fetched_at = time.monotonic()

    def fetch(self) -> None:
        options = jwt_settings()
        if options.get("JWKS_SOURCE"):
            self.install(import_string(options["JWKS_SOURCE"])())
            return
        with urllib.request.urlopen(options["JWKS_URL"], timeout=options["JWKS_TIMEOUT"]) as r:  # noqa: S310 - from settings
            self.install(json.loads(r.read()))
        logger.info("auth.jwks_fetched", extra={"kids": sorted(self._keys)})

    def get(self, kid: str):
        key = self._keys.get(kid)
        stale = time.monotonic() - self._fetched_at > jwt_settings()["JWKS_CACHE_SECONDS"]
        forced = self._fetched_at == float("-inf")
        if key is not None and not stale:
            return key
        with self._lock:
            key = self._keys.get(kid)
            since = time.monotonic() - self._fetched_at
            if (key is None or stale) and (forced or since >= self.MIN_REFRESH_INTERVAL):
                try:
                    self.fetch()
                except (OSError, ValueError) as exc:
                    logger.warning("auth.jwks_unavailable", extra={"error": str(exc)[:200]})
                key = self._keys.get(kid)
        if key is None:
            raise TokenInvalid("unknown_key", "The token was signed with an unknown key.")
        return key


keyset = KeySet()


@dataclass(frozen=True)
class TokenUser:
    """The caller, as the token says: a user, or a service identity (``client_id``)."""

    id: str | None
    email: str
    is_staff: bool
    roles: frozenset[str]
    scopes: frozenset[str]
    client_id: str | None
    claims: dict[str, Any]

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @property
    def pk(self) -> str | None:
        return self.id

    @property
    def is_service(self) -> bool:
        return self.client_id is not None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles)) or "admin" in self.roles

    def __str__(self) -> str:
        return self.email or self.client_id or str(self.id)


def revoked_jti_key(jti: str) -> str:
    return f"auth:revoked:jti:{jti}"


def revoked_user_key(user_id: str) -> str:
    return f"auth:revoked:user:{user_id}"


#: Bumped by auth_service whenever its key set changes, read with the revocations (one round trip).
KEYSET_VERSION_KEY = "auth:jwks:version"


def keyset_changed() -> None:
    cache.set(KEYSET_VERSION_KEY, time.time(), timeout=None)


def revoke_jti(jti: str, expires_at: float) -> None:
    """Refuse this token everywhere until it would have expired anyway."""
    cache.set(revoked_jti_key(jti), 1, timeout=max(int(expires_at - time.time()) + 1, 1))


def revoke_user(user_id: str) -> None:
    """Refuse every token of this user issued until now (deactivation, erasure)."""
    lifetime = int(jwt_settings()["ACCESS_TOKEN_LIFETIME"]) + 60
    cache.set(revoked_user_key(str(user_id)), time.time(), timeout=lifetime)


def verify(token: str, *, token_type: str = "access") -> dict[str, Any]:
    """The claims of a valid token, or :class:`TokenInvalid`."""
    options = jwt_settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenInvalid("malformed", "The token is malformed.") from exc
    if header.get("alg") not in options["ALGORITHMS"]:
        raise TokenInvalid("algorithm", "The token's algorithm is not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalid("unknown_key", "The token names no key.")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenInvalid("malformed", "The token is malformed.") from exc
    jti, user_id = unverified.get("jti"), unverified.get("user_id")
    shared = cache.get_many(
        [KEYSET_VERSION_KEY, revoked_jti_key(str(jti))]
        + ([revoked_user_key(str(user_id))] if user_id else [])
    )
    version = shared.get(KEYSET_VERSION_KEY)
    if version != keyset.version:
        keyset.invalidate(version)
    try:
        claims = jwt.decode(
            token,
            keyset.get(kid),
            algorithms=options["ALGORITHMS"],
            audience=options["AUDIENCE"],
            issuer=options["ISSUER"],
            leeway=options["LEEWAY"],
            options={"require": ["exp", "iat", "jti", "iss", "aud", "token_type"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("expired", "The token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenInvalid("audience", "The token is not meant for this platform.") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenInvalid("issuer", "The token was not issued by this platform.") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenInvalid("signature", "The token's signature is not valid.") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid("malformed", "The token is not valid.") from exc
    if claims["token_type"] != token_type:
        raise TokenInvalid("token_type", f"An {token_type} token is required.")
    if shared.get(revoked_jti_key(str(claims["jti"]))):
        raise TokenInvalid("revoked", "The token has been revoked.")
    cutoff = shared.get(revoked_user_key(str(claims.get("user_id"))))
    if cutoff and claims["iat"] <= cutoff:
        raise TokenInvalid("revoked", "The token has been revoked.")
    return claims


def token_user(claims: dict[str, Any]) -> TokenUser:
    return TokenUser(
        id=str(claims["user_id"]) if claims.get("user_id") else None,
        email=claims.get("email", ""),
        is_staff=bool(claims.get("is_staff", False)),
        roles=frozenset(claims.get("roles") or ()),
        scopes=frozenset(claims.get("scopes") or ()),
        client_id=claims.get("client_id"),
        claims=claims,
    )
