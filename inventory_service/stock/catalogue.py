"""product_service, as inventory_service reads it: the product of one SKU, for a SKU whose
``product.created`` has not been applied here yet (``services.stock_item_get``).

A public read (``GET /api/v1/products/?sku=…``, no token: the catalogue's cached anonymous
answer) through the kit's :class:`ServiceClient` (timeouts, retries of this GET, the per-upstream
circuit breaker). The catalogue shows the public live, active products: an inactive, deleted or
unknown product is ``None``. No answer at all raises the kit's ``UpstreamUnavailable`` (503) or
``UpstreamTimeout`` (504); so does an answer we cannot use.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from service_kit.api import UpstreamUnavailable
from service_kit.http import ServiceClient

logger = logging.getLogger(__name__)

#: What product_service accepts as a SKU: anything else is no product's, and is not asked for.
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class CatalogueProduct:
    id: UUID
    sku: str
    #: When the product last changed: the answer holds every change up to then.
    updated_at: datetime


def product_by_sku(sku: str) -> CatalogueProduct | None:
    """The catalogue's live, active product with exactly this SKU, or None."""
    if not SKU_PATTERN.match(sku):
        return None
    response = ServiceClient("product").get("/api/v1/products/", params={"sku": sku})
    if response.status != 200:
        logger.warning("catalogue.read_failed", extra={"status": response.status, "sku": sku})
        raise UpstreamUnavailable(
            details={"upstream": "product", "reason": f"status_{response.status}"}
        )
    try:
        # Exactly this SKU (a release of product_service without the filter answers a page of
        # every product: the SKU is then found only if it is on it).
        for item in response.json()["results"]:
            if item["sku"] == sku and item["is_active"] is True:
                updated_at = datetime.fromisoformat(item["updated_at"])
                if updated_at.tzinfo is None:
                    raise ValueError("updated_at names no offset")
                return CatalogueProduct(id=UUID(str(item["id"])), sku=sku, updated_at=updated_at)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("catalogue.bad_answer", extra={"error": str(exc)[:200]})
        raise UpstreamUnavailable(details={"upstream": "product", "reason": "bad_answer"}) from exc
    return None
