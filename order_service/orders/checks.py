"""System checks of the saga's timers (registered in OrdersConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

POSITIVE_SETTINGS = (
    "RESERVE_DEADLINE",
    "PAYMENT_DEADLINE",
    "RESERVATION_EXPIRY",
    "DEADLINE_CHECK_INTERVAL",
    "DEADLINE_CHECK_BATCH",
)


@checks.register()
def saga_timer_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    for name in POSITIVE_SETTINGS:
        value = getattr(settings, name, None)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            problems.append(
                checks.Error(f"{name} must be a positive number, not {value!r}.", id="orders.E001")
            )
    if problems:
        return problems
    if settings.RESERVE_DEADLINE + settings.PAYMENT_DEADLINE >= settings.RESERVATION_EXPIRY:
        problems.append(
            checks.Error(
                "RESERVATION_EXPIRY must be longer than RESERVE_DEADLINE + PAYMENT_DEADLINE: "
                "a payment could otherwise be taken for a reservation already released.",
                hint="The saga's timers: docs/architecture.md#timers.",
                id="orders.E002",
            )
        )
    return problems
