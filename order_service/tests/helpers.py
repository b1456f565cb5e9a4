"""Helpers of order_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
class CatalogueStub:
    """A stand-in for product_service's batch read (the outside of this service): answers
    ``GET /api/v1/products/?ids=…`` from ``products`` (hiding inactive ones, as it does for a
    non-staff caller unless ``show_inactive``), and records each request."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    show_inactive: bool = True
    status: int = 200

    def start(self) -> str:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                stub.requests.append(
                    {"path": url.path, "query": query, "auth": self.headers.get("Authorization")}
                )
                ids = query.get("ids", [""])[0].split(",")
                results = [
                    stub.products[i]
                    for i in ids
                    if i in stub.products and (stub.show_inactive or stub.products[i]["is_active"])
                ]
                body = json.dumps(
                    {"count": len(results), "next": None, "previous": None, "results": results}
                ).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
