"""Brute-force protection for sign-in: failures counted per account and per client address in
the shared cache; past the limit, 429 with ``Retry-After`` until the window ends.

The limits: 5 per account and 20 per address in 15 minutes, each changed by the environment's
``LOGIN_GUARD_<NAME>`` or by ``settings.LOGIN_GUARD`` (a dict of some of the names)."""

from __future__ import annotations

import contextlib
import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from service_kit.conf import env

DEFAULTS = {"ACCOUNT_FAILURES": 5, "ADDRESS_FAILURES": 20, "WINDOW_SECONDS": 900}


def limits() -> dict[str, int]:
    """Read at each sign-in (settings at run time, never at import): the environment, then
    ``settings.LOGIN_GUARD``."""
    configured = {
        name: env.int(f"LOGIN_GUARD_{name}", default) for name, default in DEFAULTS.items()
    }
    return {**configured, **getattr(settings, "LOGIN_GUARD", {})}


def _keys(email: str, address: str) -> dict[str, int]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    limits_now = limits()
    return {
        f"auth:login-failures:account:{digest}": limits_now["ACCOUNT_FAILURES"],
        f"auth:login-failures:address:{address}": limits_now["ADDRESS_FAILURES"],
    }


def _count(key: str, window: int) -> int:
    """One more on ``key``'s counter, as one atomic step of the cache: the number it reached."""
    for _ in range(3):
        if cache.add(key, 1, timeout=window):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: start it again
            continue
    return 1


def attempt(email: str, address: str) -> None:
    """Count this sign-in attempt, then let it try the password only if the account and the
    address are within their limits; else 429 with ``Retry-After``. Counting first is what
    holds under concurrency: checking first let 30 simultaneous guesses all pass a limit of 5.
    On Redis ``add`` and ``incr`` are atomic; the embedded profile's file cache does each as a
    read and a write, so its counters may come out low under concurrent requests."""
    window = limits()["WINDOW_SECONDS"]
    keys = _keys(email, address)
    counts = {key: _count(key, window) for key in keys}
    if any(counts[key] > limit for key, limit in keys.items()):
        _refund(keys)  # refused unheard: no password was tried
        raise Throttled(wait=window)


def _refund(keys) -> None:
    for key in keys:
        with contextlib.suppress(ValueError):  # gone (expired, or a success cleared it)
            cache.decr(key)


def succeeded(email: str, address: str | None = None) -> None:
    """The right password: the account's count starts again, and the address is refunded the
    attempt (a success is no guess)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    cache.delete(f"auth:login-failures:account:{digest}")
    if address is not None:
        _refund([f"auth:login-failures:address:{address}"])
