"""Brute-force protection for sign-in: failures counted per account and per client address in
the shared cache; past the limit, 429 with ``Retry-After`` until the window ends."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled


def _keys(email: str, address: str) -> dict[str, int]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    limits = settings.LOGIN_GUARD
    return {
        f"auth:login-failures:account:{digest}": limits["ACCOUNT_FAILURES"],
        f"auth:login-failures:address:{address}": limits["ADDRESS_FAILURES"],
    }


def check(email: str, address: str) -> None:
    """Refuse at once (429) while the account or the address is locked out."""
    keys = _keys(email, address)
    counts = cache.get_many(list(keys))
    if any(counts.get(key, 0) >= limit for key, limit in keys.items()):
        raise Throttled(wait=settings.LOGIN_GUARD["WINDOW_SECONDS"])


def failed(email: str, address: str) -> None:
    window = settings.LOGIN_GUARD["WINDOW_SECONDS"]
    for key in _keys(email, address):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=window)


def succeeded(email: str) -> None:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    cache.delete(f"auth:login-failures:account:{digest}")
