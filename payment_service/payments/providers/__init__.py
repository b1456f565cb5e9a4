"""Provider adapters: the one card network the service talks to, chosen by
``PAYMENTS["PROVIDER"]`` (a dotted path). See :mod:`.base` for the interface."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import (
    ChargeResult,
    PaymentProvider,
    ProviderError,
    ProviderKeyReused,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)

__all__ = [
    "ChargeResult",
    "PaymentProvider",
    "ProviderError",
    "ProviderKeyReused",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RefundResult",
    "get_provider",
]


def get_provider() -> PaymentProvider:
    """The configured adapter (read at run time: tests may switch it)."""
    return import_string(settings.PAYMENTS["PROVIDER"])()
