"""System checks of payments' settings (registered in PaymentsConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

NON_NEGATIVE = ("SANDBOX_LATENCY", "PROVIDER_TIMEOUT", "PROVIDER_RETRIES", "PROVIDER_RETRY_BACKOFF")


@checks.register()
def payments_settings_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    config = getattr(settings, "PAYMENTS", None)
    if not isinstance(config, dict):
        return [checks.Error("PAYMENTS must be a dict of settings.", id="payments.E001")]
    problems: list[checks.CheckMessage] = []
    for name in NON_NEGATIVE:
        value = config.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            problems.append(
                checks.Error(
                    f'PAYMENTS["{name}"] must be a number ≥ 0, not {value!r}.', id="payments.E002"
                )
            )
    try:
        import_string(config.get("PROVIDER") or "")
    except ImportError as exc:
        problems.append(
            checks.Error(f'PAYMENTS["PROVIDER"] cannot be imported: {exc}', id="payments.E003")
        )
    if problems:
        return problems
    soft_limit = settings.MESSAGING.get("SOFT_TIME_LIMIT", 240)
    if config["PROVIDER_TIMEOUT"] >= soft_limit:
        problems.append(
            checks.Warning(
                "PAYMENTS['PROVIDER_TIMEOUT'] is not below the worker's soft time limit: a "
                "silent provider could hold a worker until it is killed.",
                id="payments.W001",
            )
        )
    return problems
