"""Helpers of payment_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

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
        return self.client.post(
            path,
            data=json.dumps(body or {}),
            content_type="application/json",
            **self.headers,
            **extra,
        )


def envelope(message_type: str, **data: Any) -> dict[str, Any]:
    """A message as its producer's outbox sends it (a new message id each time)."""
    return Envelope.new(message_type, data).as_dict()


def charge_message(order_id: str | None = None, **data: Any) -> dict[str, Any]:
    data = {
        "order_id": order_id or str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "amount": "42.50",
        "currency": "EUR",
        "payment_token": "tok_visa",
        **data,
    }
    return envelope("payment.charge", **data)


def published(*types: str) -> list[tuple[str, dict[str, Any]]]:
    """``(type, data)`` of every outbox row (of ``types``, when given), oldest first."""
    rows = OutboxMessage.objects.order_by("created_at").values_list("envelope", flat=True)
    return [(e["type"], e["data"]) for e in rows if not types or e["type"] in types]
