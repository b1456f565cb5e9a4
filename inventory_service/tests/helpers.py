"""Helpers of inventory_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from service_kit.messaging import Envelope
from service_kit.models import OutboxMessage


@dataclass
class Api:
    """The test client with a token: ``api.get(path)``, ``api.post(path, {...})``."""

    client: Any
    headers: dict[str, str]

    def request(self, method: str, path: str, body: Any = None, **extra: Any):
        kwargs: dict[str, Any] = {**self.headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, data: dict | None = None, **extra: Any):
        return self.client.get(path, data or {}, **self.headers, **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.request("post", path, body, **extra)


def envelope(message_type: str, **data: Any) -> dict[str, Any]:
    """A message as its producer's outbox sends it (a new message id each time)."""
    return Envelope.new(message_type, data).as_dict()


def published(*types: str) -> list[tuple[str, dict[str, Any]]]:
    """``(type, data)`` of every outbox row (of ``types``, when given), oldest first."""
    rows = OutboxMessage.objects.order_by("created_at").values_list("envelope", flat=True)
    return [(e["type"], e["data"]) for e in rows if not types or e["type"] in types]


def clear_outbox() -> None:
    OutboxMessage.objects.all().delete()
