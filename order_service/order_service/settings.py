"""order_service: orders and the order saga. Everything else comes from the kit."""

from service_kit.conf import env, service_settings

globals().update(
    service_settings(
        service="order",
        apps=["orders"],
        # The saga's answers (orders/handlers.py): inventory_service's and payment_service's.
        consumes=[
            "inventory.reserved",
            "inventory.rejected",
            "inventory.committed",
            "inventory.released",
            "payment.succeeded",
            "payment.failed",
            "payment.refunded",
        ],
        # The saga's timers (docs/architecture.md#timers), in seconds. An order waits
        # RESERVE_DEADLINE for inventory's answer, then PAYMENT_DEADLINE for the payment's; the
        # reservation it asks for expires after RESERVATION_EXPIRY, which must be longer than
        # both together (orders/checks.py), so a payment is never taken for released stock.
        RESERVE_DEADLINE=env.float("ORDER_RESERVE_DEADLINE", 60.0),
        PAYMENT_DEADLINE=env.float("ORDER_PAYMENT_DEADLINE", 120.0),
        RESERVATION_EXPIRY=env.float("ORDER_RESERVATION_EXPIRY", 600.0),
        # How often the periodic task fails orders past their deadline, and at most how many.
        DEADLINE_CHECK_INTERVAL=env.float("ORDER_DEADLINE_CHECK_INTERVAL", 5.0),
        DEADLINE_CHECK_BATCH=env.int("ORDER_DEADLINE_CHECK_BATCH", 200),
        # The reconciliation of confirmed orders against payment_service's captures (0: off).
        RECONCILIATION_INTERVAL=env.float("ORDER_RECONCILIATION_INTERVAL", 300.0),
        # The staff front page's figures (service_kit.console.api).
        CONSOLE_FIGURES=["orders.console.figures"],
    )
)
