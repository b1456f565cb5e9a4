"""Signing keys: rotation without downtime.

``key_rotate()`` makes a new key the one that signs; the previous one keeps verifying the tokens
it signed until they expire; ``key_retire(kid)`` then drops it from the JWKS. Each change bumps
the key-set version in the shared cache, so every service fetches the JWKS again at once.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from service_kit.auth import keyset_changed

from .models import SigningKey


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    private_key: Any  # parsed once: PyJWT would parse PEM again for every token (~35 ms)


def keys_dir() -> Path:
    path = Path(settings.JWT_SIGNING_KEYS_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(kid: str, private_pem: bytes) -> None:
    path = keys_dir() / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)


def _read_private(kid: str) -> bytes:
    path = keys_dir() / f"{kid}.pem"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"The private half of signing key {kid} is not in {keys_dir()}."
        ) from None


def _public_pem(private_pem: bytes) -> str:
    private = serialization.load_pem_private_key(private_pem, password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_rotate(*, kid: str | None = None) -> SigningKey:
    """Make ``kid`` (its ``<kid>.pem`` already in the keys folder) or a newly generated key the
    one that signs; the active one before it keeps verifying."""
    if kid is None:
        kid = f"{timezone.now():%Y%m%d}-{secrets.token_hex(4)}"
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(
            kid,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    public_pem = _public_pem(_read_private(kid))
    with transaction.atomic():
        SigningKey.objects.filter(state=SigningKey.State.ACTIVE).exclude(kid=kid).update(
            state=SigningKey.State.VERIFYING
        )
        key, _ = SigningKey.objects.update_or_create(
            kid=kid,
            defaults={
                "public_pem": public_pem,
                "state": SigningKey.State.ACTIVE,
                "activated_at": timezone.now(),
                "retired_at": None,
            },
        )
        transaction.on_commit(_changed)
    return key


def key_retire(*, kid: str) -> SigningKey:
    key = SigningKey.objects.get(kid=kid)
    if key.state == SigningKey.State.ACTIVE:
        raise ValueError("The active key cannot be retired: rotate first.")
    key.state, key.retired_at = SigningKey.State.RETIRED, timezone.now()
    key.save(update_fields=["state", "retired_at"])
    _changed()
    return key


def _changed() -> None:
    _active.clear()
    keyset_changed()


class _ActiveCache:
    """The signing key, read from the database at most every few seconds per process, so a
    rotation made by one replica reaches the others quickly."""

    TTL = 5.0

    def __init__(self) -> None:
        self._value: ActiveKey | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def clear(self) -> None:
        self._value = None

    def get(self) -> ActiveKey:
        if self._value is not None and time.monotonic() - self._read_at < self.TTL:
            return self._value
        with self._lock:
            key = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).first()
            if key is None:
                if not settings.JWT_AUTO_KEY:
                    raise ImproperlyConfigured(
                        "No signing key: run 'manage.py rotate_signing_key' (real profile)."
                    )
                key = key_rotate()  # embedded profile: a development key, outside the tree
            private = serialization.load_pem_private_key(_read_private(key.kid), password=None)
            self._value = ActiveKey(key.kid, private)
            self._read_at = time.monotonic()
            return self._value


_active = _ActiveCache()


def active_key() -> ActiveKey:
    return _active.get()
