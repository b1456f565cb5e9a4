"""The errors orders' services raise, in the platform's vocabulary (codes: docs/api.md#errors)."""

from __future__ import annotations

from service_kit.api import Conflict, InvalidInput, NotFound, UpstreamUnavailable

__all__ = [
    "InvalidInput",
    "OrderNotFound",
    "TransitionNotAllowed",
    "UpstreamUnavailable",
]


class OrderNotFound(NotFound):
    default_detail = "No such order."


class TransitionNotAllowed(Conflict):
    """The order's status does not allow the step (``details``: from, to)."""

    default_detail = "The order's status does not allow this."
