"""product_service, as order_service reads it: one batch call for an order's products.

Through the kit's :class:`ServiceClient` (timeouts, retries of this idempotent GET, the
per-upstream circuit breaker) with this service's own token. No answer at all raises the kit's
``UpstreamUnavailable`` (503) or ``UpstreamTimeout`` (504); so does an answer we cannot use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from uuid import UUID

from service_kit.api import UpstreamUnavailable
from service_kit.auth import service_token
from service_kit.http import ServiceClient

logger = logging.getLogger(__name__)

#: product_service's limit for ``ids`` and ``page_size``: an order has at most this many lines.
BATCH_MAX = 100


@dataclass(frozen=True)
class Product:
    id: UUID
    sku: str
    name: str
    price: Decimal
    currency: str
    is_active: bool


def products_get(*, ids: Iterable[UUID]) -> dict[UUID, Product]:
    """The catalogue's products among ``ids`` (an unknown one, or one the catalogue hides from
    us, is simply absent), in one call."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    client = ServiceClient("product", token_provider=service_token)
    response = client.get(
        "/api/v1/products/",
        params={"ids": ",".join(str(i) for i in ids), "page_size": BATCH_MAX},
    )
    if response.status != 200:
        logger.warning("catalogue.read_failed", extra={"status": response.status})
        raise UpstreamUnavailable(
            details={"upstream": "product", "reason": f"status_{response.status}"}
        )
    try:
        found = {}
        for item in response.json()["results"]:
            product = Product(
                id=UUID(str(item["id"])),
                sku=item["sku"],
                name=item["name"],
                price=Decimal(str(item["price"])),
                currency=item["currency"],
                is_active=bool(item["is_active"]),
            )
            found[product.id] = product
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        logger.warning("catalogue.bad_answer", extra={"error": str(exc)[:200]})
        raise UpstreamUnavailable(details={"upstream": "product", "reason": "bad_answer"}) from exc
    return found
