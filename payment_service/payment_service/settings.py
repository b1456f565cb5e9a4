"""payment_service: payments, refunds, provider adapters. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="payment",
        apps=["payments"],
    )
)
