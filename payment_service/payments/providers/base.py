"""The interface every card network adapter implements.

An adapter answers a charge with a :class:`ChargeResult` (approved, or declined with a
``failure_code``: a final answer) or raises:

- :class:`ProviderUnavailable` for a transient failure (the network's processing error, a 5xx):
  nothing was charged and the same call may simply be tried again;
- :class:`ProviderTimeout` when no answer came in ``PAYMENTS["PROVIDER_TIMEOUT"]`` seconds: the
  outcome is unknown. Trying again with the same ``idempotency_key`` is safe.

Every call carries an ``idempotency_key``: the provider applies a key once and answers a repeated
key with the first outcome (as Stripe does), so a retry after a crash never charges twice; a key
repeated with other parameters raises :class:`ProviderKeyReused`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class ProviderError(Exception):
    """Base of what an adapter raises (never a final decline: that is a result)."""


class ProviderUnavailable(ProviderError):
    """Transient: nothing happened; the same call may be tried again."""


class ProviderTimeout(ProviderError):
    """No answer in time: the outcome is unknown."""


class ProviderKeyReused(ProviderError):
    """The idempotency key was applied to another request (another amount): a final refusal,
    as Stripe answers a key reused with other parameters; nothing happened this time."""


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str = ""
    failure_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    reference: str
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(ABC):
    #: Stored on each payment (``Payment.provider``).
    name: str

    @abstractmethod
    def charge(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str
    ) -> ChargeResult:
        """Capture ``amount`` with the card behind ``token``."""

    @abstractmethod
    def refund(
        self, *, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult:
        """Give back ``amount`` of the charge ``charge_reference`` (raises ProviderError)."""
