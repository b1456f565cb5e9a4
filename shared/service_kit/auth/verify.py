"""Access-token verification in every service, with no call to auth_service and no user table.

Tokens are RS256 JWTs signed by auth_service. Public keys come from its JWKS document, kept in
memory and fetched again when a token names a key we do not know (rotation), at most once a
second. The only shared state is the revocation list in the shared cache: a revoked ``jti``, or a
user whose tokens issued before a moment are all refused (deactivation, erasure, password change),
or likewise a service client (deactivated or deleted).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string
from jwt.algorithms import RSAAlgorithm

from service_kit.roles import MFA_ROLES

logger = logging.getLogger(__name__)


class TokenInvalid(Exception):
    """The token is refused; ``reason`` is a stable word for logs and the error's details."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def jwt_settings() -> dict[str, Any]:
    options: dict[str, Any] = settings.JWT
    return options


def mfa_roles() -> frozenset[str]:
    """Roles a person holds only after a second factor (``"otp"`` in the token's ``amr``): in
    every API (:func:`token_user`) and every admin's sign-in (``admin_sso.admit``) alike."""
    return frozenset(getattr(settings, "MFA_ROLES", MFA_ROLES))


class KeySet:
    """The issuer's public keys by ``kid``, from its JWKS document.

    A slow or hung issuer must not hold up verification: no lock is held while fetching, one
    fetch runs at a time, and a key set past its refresh age is fetched again in the background
    while tokens keep verifying with the keys already held. A token naming an unknown key waits
    for a fetch (rotation), started at most once per ``MIN_REFRESH_INTERVAL``; after a failed
    fetch the next waits longer each time, up to ``MAX_BACKOFF``."""

    MIN_REFRESH_INTERVAL = 1.0
    MAX_BACKOFF = 30.0

    def __init__(self) -> None:
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()  # guards the fetch state below; never held while fetching
        self._fetching: threading.Event | None = None  # set when the running fetch ends
        self._next_fetch = 0.0  # no fetch starts before this (monotonic): rate limit, backoff
        self._failures = 0
        self.version: Any = None  # the issuer's key-set version this copy was fetched at

    def invalidate(self, version: Any) -> None:
        """The issuer changed its keys (rotation, retirement): fetch them on the next token."""
        self.version = version
        self._fetched_at = float("-inf")
        self._next_fetch = 0.0

    def install(self, jwks: dict[str, Any]) -> None:
        """Use this JWKS document (tests, or a static key set from settings)."""
        keys: dict[str, RSAPublicKey] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                key = RSAAlgorithm.from_jwk(json.dumps(jwk))
                # a private JWK (a test's own key set) verifies with its public half
                keys[jwk["kid"]] = key.public_key() if isinstance(key, RSAPrivateKey) else key
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

    def get(self, kid: str) -> RSAPublicKey:
        key = self._keys.get(kid)
        forced = self._fetched_at == float("-inf")  # the issuer's keys changed: do not trust ours
        if key is not None and not forced:
            if time.monotonic() - self._fetched_at > jwt_settings()["JWKS_CACHE_SECONDS"]:
                self._refresh(wait=False)
            return key
        self._refresh(wait=True)
        key = self._keys.get(kid)
        if key is None:
            raise TokenInvalid("unknown_key", "The token was signed with an unknown key.")
        return key

    def _refresh(self, *, wait: bool) -> None:
        """Start a fetch unless one is running or it is too soon; ``wait``: until it ends."""
        with self._lock:
            running, started = self._fetching, False
            if running is None and time.monotonic() >= self._next_fetch:
                running = self._fetching = threading.Event()
                started = True
        if running is None:
            return
        if started and wait:
            self._fetch_once(running)
        elif started:
            threading.Thread(
                target=self._fetch_in_background, args=(running,), name="jwks-fetch", daemon=True
            ).start()
        elif wait:
            running.wait(float(jwt_settings()["JWKS_TIMEOUT"]) + 1.0)

    def _fetch_once(self, done: threading.Event) -> None:
        failed = True
        try:
            self.fetch()
            failed = False
        except (OSError, ValueError) as exc:
            logger.warning("auth.jwks_unavailable", extra={"error": str(exc)[:200]})
        finally:
            with self._lock:
                self._failures = self._failures + 1 if failed else 0
                backoff = self.MIN_REFRESH_INTERVAL * 2 ** max(self._failures - 1, 0)
                self._next_fetch = time.monotonic() + min(backoff, self.MAX_BACKOFF)
                self._fetching = None
            done.set()

    def _fetch_in_background(self, done: threading.Event) -> None:
        from django.db import connections

        try:
            self._fetch_once(done)
        finally:
            connections.close_all()  # this thread's own (a JWKS_SOURCE reads the database)


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


def revoked_client_key(client_id: str) -> str:
    return f"auth:revoked:client:{client_id}"


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


def revoke_client(client_id: str) -> None:
    """Refuse every token of this service client issued until now (deactivated, deleted)."""
    options = jwt_settings()
    lifetime = max(int(options["SERVICE_TOKEN_LIFETIME"]), int(options["ACCESS_TOKEN_LIFETIME"]))
    cache.set(revoked_client_key(str(client_id)), time.time(), timeout=lifetime + 60)


_SEGMENT = re.compile(rb"^[A-Za-z0-9_-]*$")


def _b64decode(segment: str) -> bytes:
    data = segment.encode("ascii")
    if not _SEGMENT.match(data):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signature and signing input of a compact JWS (nothing verified yet).

    Parsed here rather than by PyJWT: its decoder checks the base64 alphabet character by
    character in Python, which made verification cost several times the RSA check itself."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, UnicodeError) as exc:
        raise TokenInvalid("malformed", "The token is malformed.") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed", "The token is malformed.")
    return header, claims, signature, f"{header_b64}.{claims_b64}".encode()


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid("malformed", f"The token's '{name}' claim is missing or not a number.")
    return value


def _check_claims(
    claims: dict[str, Any], options: dict[str, Any], token_type: str, audience: str
) -> None:
    now, leeway = time.time(), options["LEEWAY"]
    for name in ("jti", "token_type"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise TokenInvalid("malformed", f"The token's '{name}' claim is missing.")
    if _number(claims, "exp") <= now - leeway:
        raise TokenInvalid("expired", "The token has expired.")
    if _number(claims, "iat") > now + leeway:
        raise TokenInvalid("malformed", "The token was issued in the future.")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise TokenInvalid("malformed", "The token is not valid yet.")
    if claims.get("iss") != options["ISSUER"]:
        raise TokenInvalid("issuer", "The token was not issued by this platform.")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise TokenInvalid("audience", "The token is not meant for this recipient.")
    if claims["token_type"] != token_type:
        raise TokenInvalid("token_type", f"An {token_type} token is required.")


def verify_token(
    token: str,
    *,
    token_type: str = "access",  # noqa: S107 - a token type's name, not a secret
    fetch: Callable[[list[str]], dict[str, Any]] | None = None,
    audience: str | None = None,
) -> dict[str, Any]:
    """The claims of a valid token, or :class:`TokenInvalid`.

    RS256 only (``alg: none`` and HMAC forgeries are refused before any key is touched), a known
    ``kid``, the signature, ``exp``/``iat``/``nbf`` with leeway, ``iss``, ``aud``, the token type,
    then the revocation list (``jti``, user, service client) and the key-set version in one cache
    round trip. ``fetch`` reads
    those cache keys (default: ``cache.get_many``); the gateway passes one that also counts its
    throttles in the same Redis round trip. ``audience``: another than the platform's (an
    admin's sign-in ticket is meant for that admin alone)."""
    options = jwt_settings()
    header, claims, signature, signing_input = _parse(token)
    if header.get("alg") not in options["ALGORITHMS"]:
        raise TokenInvalid("algorithm", "The token's algorithm is not accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalid("unknown_key", "The token names no key.")
    jti, user_id, client_id = str(claims.get("jti")), claims.get("user_id"), claims.get("client_id")
    shared = (fetch or cache.get_many)(
        [KEYSET_VERSION_KEY, revoked_jti_key(jti)]
        + ([revoked_user_key(str(user_id))] if user_id else [])
        + ([revoked_client_key(str(client_id))] if client_id else [])
    )
    version = shared.get(KEYSET_VERSION_KEY)
    if version != keyset.version:
        keyset.invalidate(version)
    try:
        keyset.get(kid).verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise TokenInvalid("signature", "The token's signature is not valid.") from exc
    _check_claims(claims, options, token_type, audience or options["AUDIENCE"])
    if shared.get(revoked_jti_key(jti)):
        raise TokenInvalid("revoked", "The token has been revoked.")
    for cutoff in (
        shared.get(revoked_user_key(str(user_id))),
        shared.get(revoked_client_key(str(client_id))),
    ):
        if cutoff and _number(claims, "iat") <= cutoff:
            raise TokenInvalid("revoked", "The token has been revoked.")
    return claims


def token_user(claims: dict[str, Any]) -> TokenUser:
    """The caller, with the roles they may act in: the claim's, less :func:`mfa_roles` unless
    the token proves a second factor. Every permission (``HasRole``, ``has_role`` in selectors)
    reads these, so a stolen or phished password alone never refunds or administers."""
    roles = frozenset(claims.get("roles") or ())
    amr = claims.get("amr")
    if not (isinstance(amr, list) and "otp" in amr):
        roles -= mfa_roles()
    return TokenUser(
        id=str(claims["user_id"]) if claims.get("user_id") else None,
        email=claims.get("email", ""),
        is_staff=bool(claims.get("is_staff", False)),
        roles=roles,
        scopes=frozenset(claims.get("scopes") or ()),
        client_id=claims.get("client_id"),
        claims=claims,
    )
