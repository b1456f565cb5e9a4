"""The errors stock's services raise, in the platform's vocabulary (codes: docs/api.md#errors)."""

from __future__ import annotations

from service_kit.api import Conflict, InvalidInput, NotFound

__all__ = ["BelowReserved", "InvalidInput", "StockInconsistent", "StockItemNotFound"]


class StockItemNotFound(NotFound):
    default_detail = "No stock is kept for this SKU."


class BelowReserved(Conflict):
    """An adjustment would leave less on hand than orders hold (``details`` says how much)."""

    default_detail = "On hand cannot go below what is reserved."


class StockInconsistent(RuntimeError):
    """A held reservation's units are not on its stock rows: a bug, never the caller's fault.
    Raised inside the message's transaction, so the kit retries and then dead-letters it."""
