"""inventory_service: stock per SKU, reservations, adjustments. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="inventory",
        port=8004,
        apps=["stock"],
    )
)
