"""order_service: orders and the order saga. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="order",
        apps=["orders"],
    )
)
