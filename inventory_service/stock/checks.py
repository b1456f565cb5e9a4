"""System checks of stock's settings (registered in StockConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

POSITIVE_SETTINGS = ("RESERVATION_TTL", "RESERVATION_EXPIRY_INTERVAL", "RESERVATION_EXPIRY_BATCH")


@checks.register()
def reservation_settings_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    for name in POSITIVE_SETTINGS:
        value = getattr(settings, name, None)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            problems.append(
                checks.Error(f"{name} must be a positive number, not {value!r}.", id="stock.E001")
            )
    if problems:
        return problems
    ttl, interval = settings.RESERVATION_TTL, settings.RESERVATION_EXPIRY_INTERVAL
    if interval >= ttl:
        problems.append(
            checks.Warning(
                "RESERVATION_EXPIRY_INTERVAL is not shorter than RESERVATION_TTL: expired "
                "reservations stay held up to twice their lifetime.",
                id="stock.W001",
            )
        )
    return problems
