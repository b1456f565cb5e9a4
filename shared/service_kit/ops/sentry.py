from django.conf import settings


def init_sentry() -> None:
    """Sentry only when ``SENTRY_DSN`` is set; nothing is imported or sent otherwise."""
    dsn = getattr(settings, "SENTRY_DSN", "")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=getattr(settings, "PLATFORM_PROFILE", "embedded"),
        release=None,
        send_default_pii=False,
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("service", settings.SERVICE_NAME)
