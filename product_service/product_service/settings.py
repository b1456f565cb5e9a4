"""product_service: categories, products, prices, images. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="product",
        apps=["catalogue"],
    )
)
