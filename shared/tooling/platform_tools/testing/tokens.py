"""Tokens for tests, signed like auth_service signs them, with a key the verifier is given.

mint = TokenMint().install()        # this process's verifier now trusts the mint's key
client.get(url, **mint.headers(user_id=..., roles=["support"]))

A person's token says they signed in with both factors (``amr: ["pwd", "otp"]``) unless the test
says otherwise: ``amr=["pwd"]`` is a password alone, which leaves out ``settings.MFA_ROLES``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache
from jwt.algorithms import RSAAlgorithm

from service_kit.auth.verify import KEYSET_VERSION_KEY, keyset
from service_kit.conf import jwt_settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenMint:
    def __init__(self, kid: str | None = None):
        self.kid = kid or f"test-{uuid.uuid4().hex[:8]}"
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def install(self) -> TokenMint:
        keyset.install(self.jwks)
        keyset.version = cache.get(KEYSET_VERSION_KEY)
        return self

    def claims(
        self,
        *,
        user_id: str | None = None,
        email: str = "",
        roles=(),
        scopes=(),
        is_staff: bool = False,
        client_id: str | None = None,
        amr=("pwd", "otp"),
        token_type: str = "access",  # noqa: S107 - a token type's name, not a secret
        lifetime: int = 300,
        **overrides,
    ) -> dict[str, Any]:
        now = int(time.time())
        # Outside a Django project (the system tests) the issuer and audience every service
        # expects by default.
        expected = settings.JWT if settings.configured else jwt_settings()
        claims = {
            "iss": expected["ISSUER"],
            "aud": expected["AUDIENCE"],
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + lifetime,
            "token_type": token_type,
        }
        if client_id:
            claims.update(client_id=client_id, scopes=list(scopes))
        else:
            claims.update(
                user_id=user_id or str(uuid.uuid4()),
                email=email,
                is_staff=is_staff,
                roles=list(roles),
                amr=list(amr) if isinstance(amr, list | tuple) else amr,
            )
        claims.update(overrides)
        return claims

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        # The key object itself: a PEM would be parsed (and the key checked) again per token,
        # a fifth of a second each on a busy machine.
        headers = {"kid": kid or self.kid}
        return jwt.encode(claims, self.private, algorithm="RS256", headers=headers)

    def token(self, **kwargs) -> str:
        return self.sign(self.claims(**kwargs))

    def headers(self, **kwargs) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token(**kwargs)}"}

    # -- forgeries, for the token matrix -------------------------------------------------------
    def unsigned(self, claims: dict[str, Any]) -> str:
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """The classic key-confusion forgery: HMAC keyed with the public key's PEM."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(self.public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def tampered(self, claims: dict[str, Any], **changes) -> str:
        """A valid token whose payload was edited afterwards (the signature no longer fits)."""
        header, _, signature = self.sign(claims).split(".")
        payload = _b64(json.dumps({**claims, **changes}).encode())
        return f"{header}.{payload}.{signature}"
