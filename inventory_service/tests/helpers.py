"""Helpers of inventory_service's tests (fixtures are in conftest.py); the common ones are the
kit's (``platform_tools.testing.api``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from platform_tools.testing.api import Api, envelope, published
from platform_tools.testing.stubs import JsonStub
from service_kit.models import OutboxMessage

__all__ = ["Api", "CatalogueStub", "clear_outbox", "envelope", "published"]


@dataclass
class CatalogueStub(JsonStub):
    """A stand-in for product_service's public product list (the outside of this service):
    answers ``GET /api/v1/products/?sku=…`` from ``products`` (active ones only, as it does for
    an anonymous caller), or with ``status`` and ``body`` when set; records each request."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    body: Any = None

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        if self.body is not None or self.status != 200:
            return self.status, self.body or {}
        sku = request["query"].get("sku", [""])[0]
        product = self.products.get(sku)
        results = [product] if product and product["is_active"] else []
        return 200, {"count": len(results), "next": None, "previous": None, "results": results}

    def add(
        self, sku: str, *, active: bool = True, updated_at: datetime | None = None
    ) -> dict[str, Any]:
        at = (updated_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        self.products[sku] = {
            "id": str(uuid.uuid4()),
            "sku": sku,
            "name": sku,
            "price": "9.50",
            "currency": "EUR",
            "is_active": active,
            "created_at": at,
            "updated_at": at,
        }
        return self.products[sku]


def clear_outbox() -> None:
    OutboxMessage.objects.all().delete()
