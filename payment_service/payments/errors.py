"""The errors payments' services raise, in the platform's vocabulary (codes: docs/api.md#errors)."""

from __future__ import annotations

from service_kit.api import Conflict, InvalidInput, NotFound, UpstreamTimeout, UpstreamUnavailable

__all__ = [
    "AmountMismatch",
    "InvalidInput",
    "NotRefundable",
    "PaymentNotFound",
    "ProviderDidNotAnswer",
    "ProviderUnavailableError",
    "RefundExceedsCaptured",
]


class PaymentNotFound(NotFound):
    default_detail = "No such payment."


class AmountMismatch(Conflict):
    """A charge for an order whose payment is recorded with another amount or currency."""

    default_detail = "This order's payment was recorded with another amount or currency."


class NotRefundable(Conflict):
    default_detail = "Nothing was captured for this payment: there is nothing to refund."


class RefundExceedsCaptured(Conflict):
    default_detail = "A refund cannot exceed what was captured and not yet refunded."


class ProviderUnavailableError(UpstreamUnavailable):
    default_detail = "The payment provider is temporarily unavailable; try again."


class ProviderDidNotAnswer(UpstreamTimeout):
    default_detail = "The payment provider did not answer in time; the outcome is not known yet."
