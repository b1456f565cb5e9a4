from django.apps import AppConfig


class ServiceKitConfig(AppConfig):
    name = "service_kit"
    label = "service_kit"
    verbose_name = "Platform (outbox, inbox, dead letters)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from . import (
            checks,  # noqa: F401 - registers the system checks
            tracing,
        )
        from .auth import schema  # noqa: F401 - the bearer scheme in every OpenAPI document
        from .conf import platform_version
        from .ops import sentry

        sentry.init_sentry()
        tracing.setup(settings.SERVICE_NAME, platform_version(), settings.PLATFORM_PROFILE)
