"""Helpers of inventory_service's tests (fixtures are in conftest.py); the common ones are the
kit's (``service_kit.testing.api``)."""

from __future__ import annotations

from service_kit.models import OutboxMessage
from service_kit.testing.api import Api, envelope, published

__all__ = ["Api", "clear_outbox", "envelope", "published"]


def clear_outbox() -> None:
    OutboxMessage.objects.all().delete()
