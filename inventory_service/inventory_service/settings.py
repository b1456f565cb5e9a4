"""inventory_service: stock per SKU, reservations, adjustments (the rest: the kit)."""

from service_kit.conf import env, service_settings

globals().update(
    service_settings(
        service="inventory",
        apps=["django_filters", "stock"],
        # product_service's events: SKUs follow the catalogue (stock/handlers.py).
        consumes=["product.created", "product.updated", "product.deleted"],
        # The order saga's commands: queues inventory.reserve, inventory.commit, inventory.release.
        commands=["reserve", "commit", "release"],
        # Reservations (stock/services.py). A held reservation is released after this many
        # seconds unless the reserve command gives its own expires_at: keep it longer than the
        # saga's payment deadline (docs/architecture.md#timers).
        RESERVATION_TTL=env.int("RESERVATION_TTL", 15 * 60),
        # How often the periodic task releases expired reservations (seconds), and at most how
        # many per run.
        RESERVATION_EXPIRY_INTERVAL=env.float("RESERVATION_EXPIRY_INTERVAL", 30.0),
        RESERVATION_EXPIRY_BATCH=env.int("RESERVATION_EXPIRY_BATCH", 500),
        # The staff front page's figures (service_kit.console.api).
        CONSOLE_FIGURES=["stock.console.figures"],
    )
)
