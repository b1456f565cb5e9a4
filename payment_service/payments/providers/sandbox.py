"""The sandbox: a card network that behaves like one, without money
(docs/api.md#sandbox-card-tokens).

- ``tok_visa``, ``tok_mastercard``: approved;
- ``tok_chargeDeclined`` → ``card_declined``; ``tok_insufficientFunds`` → ``insufficient_funds``;
  any other token → ``invalid_token``;
- ``tok_processingError``: fails transiently (ProviderUnavailable) twice per idempotency key, then
  is approved;
- ``tok_timeout``: never answers; like an HTTP client's read timeout, the call gives up after
  ``PAYMENTS["PROVIDER_TIMEOUT"]`` seconds with ProviderTimeout (it never holds a worker longer).

Every call takes ``PAYMENTS["SANDBOX_LATENCY"]`` seconds. Like a real network it applies an
idempotency key once and answers a repeated key with the first outcome (a refund's key repeated
for another amount is refused: ProviderKeyReused). Its memory (outcomes,
attempt counts, captures) lives in the shared cache, so every web process and worker sees one
network.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .base import (
    ChargeResult,
    PaymentProvider,
    ProviderKeyReused,
    ProviderTimeout,
    ProviderUnavailable,
    RefundResult,
)

APPROVED = frozenset({"tok_visa", "tok_mastercard"})
DECLINED = {"tok_chargeDeclined": "card_declined", "tok_insufficientFunds": "insufficient_funds"}
TRANSIENT = "tok_processingError"
TIMEOUT = "tok_timeout"
#: How many times ``tok_processingError`` fails before it is approved (per idempotency key).
TRANSIENT_FAILURES = 2
#: How long the sandbox remembers an idempotency key (a real network: at least 24 hours).
MEMORY_SECONDS = 7 * 24 * 3600


def _key(*parts: str) -> str:
    return ":".join(("payments", "sandbox", *parts))


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def charge(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str
    ) -> ChargeResult:
        self._wait()
        done = cache.get(_key("charge", idempotency_key))
        if done is not None:
            return _charge_result(done, replayed=True)
        if token == TIMEOUT:
            time.sleep(settings.PAYMENTS["PROVIDER_TIMEOUT"])
            raise ProviderTimeout(f"the sandbox did not answer for {idempotency_key}")
        if token == TRANSIENT and self._attempt(idempotency_key) <= TRANSIENT_FAILURES:
            raise ProviderUnavailable("processing_error")
        outcome: dict[str, Any] = {
            "object": "charge",
            "id": f"ch_sandbox_{uuid.uuid4().hex}",
            "amount": f"{amount:.2f}",
            "currency": currency,
            "idempotency_key": idempotency_key,
        }
        if token in APPROVED or token == TRANSIENT:
            outcome.update(status="succeeded", failure_code=None)
        else:
            outcome.update(status="failed", failure_code=DECLINED.get(token, "invalid_token"))
        if cache.add(_key("charge", idempotency_key), outcome, MEMORY_SECONDS):
            if outcome["status"] == "succeeded":
                _increment(_key("captures", idempotency_key))
            return _charge_result(outcome)
        # A concurrent call with the same key answered first: its outcome is the one.
        return _charge_result(cache.get(_key("charge", idempotency_key)), replayed=True)

    def refund(
        self, *, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult:
        self._wait()
        outcome = {
            "object": "refund",
            "id": f"re_sandbox_{uuid.uuid4().hex}",
            "charge": charge_reference,
            "amount": f"{amount:.2f}",
            "currency": currency,
            "status": "succeeded",
            "idempotency_key": idempotency_key,
        }
        if not cache.add(_key("refund", idempotency_key), outcome, MEMORY_SECONDS):
            first = cache.get(_key("refund", idempotency_key))
            if (first["charge"], first["amount"], first["currency"]) != (
                charge_reference,
                outcome["amount"],
                currency,
            ):
                raise ProviderKeyReused(f"{idempotency_key} was used for another refund")
            outcome = first
        return RefundResult(reference=outcome["id"], raw=outcome)

    # -- what the sandbox remembers (tests and the demo look at it) --------------------------------

    @staticmethod
    def captures(idempotency_key: str) -> int:
        """How many times money was taken under ``idempotency_key`` (never more than once)."""
        return int(cache.get(_key("captures", idempotency_key)) or 0)

    @staticmethod
    def attempts(idempotency_key: str) -> int:
        """How many ``tok_processingError`` attempts the key has seen."""
        return int(cache.get(_key("attempts", idempotency_key)) or 0)

    def _attempt(self, idempotency_key: str) -> int:
        return _increment(_key("attempts", idempotency_key))

    @staticmethod
    def _wait() -> None:
        latency = settings.PAYMENTS["SANDBOX_LATENCY"]
        if latency > 0:
            time.sleep(latency)


def _increment(key: str) -> int:
    cache.add(key, 0, MEMORY_SECONDS)
    return cache.incr(key)


def _charge_result(outcome: dict[str, Any], *, replayed: bool = False) -> ChargeResult:
    raw = {**outcome, "replayed": replayed} if replayed else dict(outcome)
    return ChargeResult(
        succeeded=outcome["status"] == "succeeded",
        reference=outcome["id"],
        failure_code=outcome["failure_code"] or "",
        raw=raw,
    )
