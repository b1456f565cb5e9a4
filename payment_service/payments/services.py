"""Writes: charges and refunds, for the order saga's commands, the API and the admin.

Exactly once, under redelivery and concurrency:

- One payment per order (``order_id`` is unique). A charge first claims the order's row
  (``INSERT … ON CONFLICT DO NOTHING``), then locks it (``SELECT … FOR UPDATE``): a concurrent
  charge for the same order waits there, then finds the outcome and changes nothing.
- The provider is called while the row is locked, with an idempotency key made from the order id
  (``payment:<order_id>:charge``). If the process dies after the provider charged but before the
  commit, the retry asks again with the same key and the provider answers with its first outcome:
  money is taken once.
- A repeated charge (the saga resending its step, the HTTP retry with another key) never calls the
  provider again once the outcome is known; it announces the outcome again, so the caller gets its
  answer.
- ``payment.succeeded`` / ``payment.failed`` / ``payment.refunded`` go through the outbox in the
  same transaction as the change.

Failures of the provider:

- transient (ProviderUnavailable): tried again here ``PROVIDER_RETRIES`` times with backoff; past
  that the charge is undone and raised (the command is retried on its own queue by the kit, the
  HTTP caller gets 503 and may retry with the same key);
- no answer (ProviderTimeout, ``tok_timeout``): the payment is recorded PENDING, nothing is
  announced and the call returns (the worker is free again after ``PROVIDER_TIMEOUT``). The saga's
  deadline fails the order; a later charge for the order asks the provider again with the same key,
  and a success that turns up after the order failed is refunded by the saga.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import transaction

from service_kit.api import IdempotencyKeyReused
from service_kit.audit import audit_record, reason_required
from service_kit.console import admin_href
from service_kit.messaging import publish_event

from . import metrics
from .errors import (
    AmountMismatch,
    InvalidInput,
    NotRefundable,
    PaymentNotFound,
    ProviderDidNotAnswer,
    ProviderUnavailableError,
    RefundExceedsCaptured,
)
from .models import CAPTURED, Payment, PaymentStatus, Refund
from .providers import ProviderKeyReused, ProviderTimeout, ProviderUnavailable, get_provider

logger = logging.getLogger(__name__)

T = TypeVar("T")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")


def charge_idempotency_key(order_id: UUID | str) -> str:
    """The provider's idempotency key of an order's charge: the same for every attempt."""
    return f"payment:{order_id}:charge"


def refund_idempotency_key(payment_id: UUID | str, request_key: str) -> str:
    """The provider's idempotency key of one refund request: the same for every attempt of that
    request (a retry after a crash refunds once), another for another request. Never the refund's
    position: a request that crashed after the provider refunded would be replayed as the next,
    different one."""
    return f"payment:{payment_id}:refund:{request_key}"


# -- charges ---------------------------------------------------------------------------------------


def payment_charge(
    *,
    order_id: UUID,
    amount: Decimal | str,
    currency: str,
    payment_token: str,
    customer_id: UUID,
) -> tuple[Payment, bool]:
    """Charge the order's amount once; returns the payment and whether this call created it.

    A payment already recorded for the order with another amount or currency is refused
    (:class:`AmountMismatch`, 409). See the module's docstring for the rest."""
    amount = money(amount)
    provider = get_provider()
    with transaction.atomic():
        claim = Payment(
            order_id=order_id,
            customer_id=customer_id,
            amount=amount,
            currency=currency,
            status=PaymentStatus.PENDING,
            provider=provider.name,
        )
        Payment.objects.bulk_create([claim], ignore_conflicts=True)
        payment = Payment.objects.select_for_update().get(order_id=order_id)
        created = payment.pk == claim.pk
        if payment.amount != amount or payment.currency != currency:
            raise AmountMismatch(
                details={
                    "order_id": str(order_id),
                    "recorded": {"amount": f"{payment.amount:.2f}", "currency": payment.currency},
                    "requested": {"amount": f"{amount:.2f}", "currency": currency},
                }
            )
        if payment.status != PaymentStatus.PENDING:
            logger.info("payment.charge_replayed", extra=_log(payment))
            metrics.count_outcome("replayed")
            _announce_outcome(payment)
            return payment, created
        try:
            result = _with_retries(
                lambda: provider.charge(
                    amount=amount,
                    currency=currency,
                    token=payment_token,
                    idempotency_key=charge_idempotency_key(order_id),
                )
            )
        except ProviderTimeout as exc:
            # Outcome unknown: keep the payment PENDING (committed), announce nothing.
            payment.raw_response = {"error": "timeout", "message": str(exc)[:500]}
            payment.save(update_fields=["raw_response"])
            metrics.count_outcome("pending")
            logger.warning("payment.provider_timeout", extra=_log(payment))
            return payment, created
        payment.provider = provider.name
        payment.provider_reference = result.reference[:128]
        payment.raw_response = result.raw
        if result.succeeded:
            payment.status, payment.failure_code = PaymentStatus.SUCCEEDED, ""
        else:
            payment.status = PaymentStatus.FAILED
            payment.failure_code = (result.failure_code or "declined")[:64]
        payment.save()
        metrics.count_outcome(payment.status)
        _announce_outcome(payment)
    logger.info("payment.succeeded" if result.succeeded else "payment.failed", extra=_log(payment))
    return payment, created


def _announce_outcome(payment: Payment) -> None:
    """The charge's answer to the saga (the first time or again)."""
    if payment.status in CAPTURED:
        publish_event(
            "payment.succeeded",
            {
                "order_id": payment.order_id,
                "payment_id": payment.pk,
                "amount": f"{payment.amount:.2f}",
                "currency": payment.currency,
            },
        )
    elif payment.status == PaymentStatus.FAILED:
        publish_event(
            "payment.failed",
            {
                "order_id": payment.order_id,
                "payment_id": payment.pk,
                "failure_code": payment.failure_code,
            },
        )


# -- refunds ---------------------------------------------------------------------------------------


def refund_create(
    *,
    payment_id: UUID,
    amount: Decimal | str | None,
    reason: str,
    source: str,
    actor_id: UUID | None = None,
    actor_email: str = "",
    request_key: str | None = None,
) -> Refund:
    """Give back ``amount`` (None: all that is left) of a captured payment → ``payment.refunded``.

    ``request_key`` names the request (the caller's Idempotency-Key, the admin form's): asked
    again with it, the refund happens once; asked again with it for another amount, it is refused
    (:class:`IdempotencyKeyReused`, 422). None: a request of its own.
    Refused with :class:`NotRefundable` when nothing was captured and with
    :class:`RefundExceedsCaptured` above what is left (both 409); changes nothing then."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise PaymentNotFound()
        return _refund(
            payment,
            amount=amount,
            reason=reason,
            source=source,
            actor_id=actor_id,
            actor_email=actor_email,
            request_key=request_key or uuid.uuid4().hex,
        )


def refund_compensate(
    *, order_id: UUID, request_key: str, amount: Decimal | str | None = None, reason: str = ""
) -> Refund | None:
    """``payment.refund`` (the saga's compensation): refund the order's capture, or ``amount``.

    Idempotent: when everything was refunded already, ``payment.refunded`` is announced again
    (the last refund) and nothing moves. Nothing captured (no payment yet, PENDING, FAILED) or more
    asked than is left: nothing happens, and it is logged (a capture that turns up later is
    announced as ``payment.succeeded`` and the saga refunds it then). ``request_key``: the
    command's ``refund_key`` (the same when the saga resends its step), else its message id."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
        if payment is None or payment.status not in CAPTURED:
            logger.warning(
                "payment.refund_nothing_captured",
                extra={
                    "order_id": str(order_id),
                    "status": payment.status if payment else None,
                },
            )
            return None
        if payment.status == PaymentStatus.REFUNDED:
            last = payment.refunds.order_by("-created_at").first()
            logger.info("payment.refund_replayed", extra=_log(payment))
            if last is not None:
                _announce_refund(payment, last)
            return last
        if amount is not None and money(amount) > payment.refundable_amount:
            logger.error(
                "payment.refund_refused",
                extra={
                    **_log(payment),
                    "amount": str(amount),
                    "refundable": str(payment.refundable_amount),
                },
            )
            return None
        return _refund(
            payment,
            amount=amount,
            reason=reason,
            source=Refund.Source.COMMAND,
            request_key=request_key,
        )


def _refund(
    payment: Payment,
    *,
    amount: Decimal | str | None,
    reason: str,
    source: str,
    request_key: str,
    actor_id: UUID | None = None,
    actor_email: str = "",
) -> Refund:
    """Refund a payment locked by the caller's transaction, once per ``request_key``. Staff's
    (the API's and the admin's) must say why, and are recorded in the audit trail."""
    by_staff = source != Refund.Source.COMMAND
    if by_staff:
        reason = reason_required(reason)
    if payment.status not in CAPTURED:
        raise NotRefundable(details={"status": payment.status})
    refundable = payment.refundable_amount
    amount = refundable if amount is None else money(amount)
    if amount <= 0:
        raise InvalidInput(details={"amount": ["A refund is a positive amount."]})
    if amount > refundable:
        raise RefundExceedsCaptured(
            f"At most {refundable:.2f} {payment.currency} can still be refunded.",
            details={"refundable": f"{refundable:.2f}", "currency": payment.currency},
        )
    reference = payment.provider_reference
    if reference is None:  # a payment with something to refund was captured: it has one
        raise ValueError(f"payment {payment.pk} has no provider reference")
    provider = get_provider()
    try:
        result = _with_retries(
            lambda: provider.refund(
                charge_reference=reference,
                amount=amount,
                currency=payment.currency,
                idempotency_key=refund_idempotency_key(payment.pk, request_key),
            )
        )
    except ProviderTimeout as exc:
        raise ProviderDidNotAnswer() from exc
    except ProviderKeyReused as exc:
        logger.warning("payment.refund_key_reused", extra={**_log(payment), "amount": str(amount)})
        raise IdempotencyKeyReused(
            "This refund request was already made for another amount."
        ) from exc
    booked = payment.refunds.filter(provider_reference=result.reference[:128]).first()
    if booked is not None:
        # The provider replayed a refund of this request that is booked already: once.
        logger.info("payment.refund_replayed", extra=_log(payment))
        _announce_refund(payment, booked)
        return booked
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason.strip()[:500],
        source=source,
        actor_id=actor_id,
        actor_email=actor_email[:254],
        provider_reference=result.reference[:128],
        raw_response=result.raw,
    )
    payment.refunded_amount += amount
    payment.status = (
        PaymentStatus.REFUNDED
        if payment.refunded_amount == payment.amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    payment.save(update_fields=["refunded_amount", "status"])
    if by_staff:
        audit_record(
            actor=actor_email or str(actor_id or ""),
            action="refund",
            target=f"payment {payment.pk} (order {payment.order_id})",
            target_url=admin_href("payment", "payments", "payment", payment.pk),
            reason=reason,
            details={
                "amount": f"{amount:.2f}",
                "currency": payment.currency,
                "source": source,
                "order_id": payment.order_id,
            },
        )
    metrics.count_refund(source)
    _announce_refund(payment, refund)
    logger.info(
        "payment.refunded",
        extra={**_log(payment), "amount": str(amount), "source": source, "actor": actor_email},
    )
    return refund


def _announce_refund(payment: Payment, refund: Refund) -> None:
    publish_event(
        "payment.refunded",
        {
            "order_id": payment.order_id,
            "payment_id": payment.pk,
            "amount": f"{refund.amount:.2f}",
            "currency": payment.currency,
            "refunded_amount": f"{payment.refunded_amount:.2f}",
            "reason": refund.reason,
        },
    )


# -- helpers ---------------------------------------------------------------------------------------


def money(value: Decimal | str) -> Decimal:
    """A positive amount with at most two decimal places (raises InvalidInput)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(details={"amount": ["A decimal amount, like 12.50."]}) from None
    if not amount.is_finite() or amount != amount.quantize(CENT) or amount > MAX_AMOUNT:
        raise InvalidInput(details={"amount": ["At most two decimal places."]})
    if amount <= 0:
        raise InvalidInput(details={"amount": ["A positive amount."]})
    return amount.quantize(CENT)


def _with_retries(call: Callable[[], T]) -> T:
    """The call, tried again on a transient provider failure (then ProviderUnavailableError)."""
    retries = settings.PAYMENTS["PROVIDER_RETRIES"]
    backoff = settings.PAYMENTS["PROVIDER_RETRY_BACKOFF"]
    for attempt in range(retries + 1):
        try:
            return call()
        except ProviderUnavailable as exc:
            logger.warning(
                "payment.provider_unavailable", extra={"attempt": attempt + 1, "error": str(exc)}
            )
            if attempt == retries:
                raise ProviderUnavailableError() from exc
            time.sleep(backoff * (2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _log(payment: Payment, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": str(payment.order_id),
        "payment_id": str(payment.pk),
        "status": payment.status,
        "failure_code": payment.failure_code,
        **extra,
    }
