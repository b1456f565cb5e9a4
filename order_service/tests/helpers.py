"""Helpers of order_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from platform_tools.testing.stubs import JsonStub
from service_kit.messaging import Envelope
from service_kit.models import OutboxMessage


@dataclass
class Api:
    """The test client with a token: ``api.get(path)``, ``api.post(path, {...})``."""

    client: Any
    headers: dict[str, str]

    def get(self, path: str, data: dict | None = None, **extra: Any):
        return self.client.get(path, data or {}, **self.headers, **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        kwargs: dict[str, Any] = {**self.headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return self.client.post(path, **kwargs)


def envelope(message_type: str, producer: str = "test", **data: Any) -> dict[str, Any]:
    """A message as its producer's outbox sends it (a new message id each time)."""
    raw = Envelope.new(message_type, data).as_dict()
    raw["producer"] = producer
    return raw


def published(*types: str) -> list[tuple[str, dict[str, Any]]]:
    """``(type, data)`` of every outbox row (of ``types``, when given), oldest first."""
    rows = OutboxMessage.objects.order_by("created_at").values_list("envelope", flat=True)
    return [(e["type"], e["data"]) for e in rows if not types or e["type"] in types]


def clear_outbox() -> None:
    OutboxMessage.objects.all().delete()


@dataclass
class CatalogueStub(JsonStub):
    """A stand-in for product_service's batch read (the outside of this service): answers
    ``GET /api/v1/products/?ids=…`` from ``products`` (hiding inactive ones, as it does for a
    non-staff caller unless ``show_inactive``), and records each request."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    show_inactive: bool = True
    status: int = 200

    def answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = request["query"].get("ids", [""])[0].split(",")
        results = [
            self.products[i]
            for i in ids
            if i in self.products and (self.show_inactive or self.products[i]["is_active"])
        ]
        return self.status, {
            "count": len(results),
            "next": None,
            "previous": None,
            "results": results,
        }

    def add(self, product_id: str, sku: str, price: str, *, name: str = "", active: bool = True):
        self.products[product_id] = {
            "id": product_id,
            "sku": sku,
            "name": name or sku.title(),
            "slug": sku.lower(),
            "price": price,
            "currency": "EUR",
            "is_active": active,
        }
