"""inventory_service: stock per SKU, reservations, adjustments (the rest: the kit)."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="inventory",
        apps=["stock"],
    )
)
