"""System checks for the settings every service needs (``manage.py check``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

REAL_PROFILE_REQUIRED = ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
#: Mail backends that deliver nothing: the console's prints every mail (a password reset's token
#: with it) into the logs that are shipped to Elasticsearch; the others keep or drop it.
NOT_A_MAIL_TRANSPORT = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)


@register(Tags.compatibility)
def check_service_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not getattr(settings, "SERVICE_NAME", ""):
        errors.append(
            Error(
                "SERVICE_NAME is not set.",
                id="service_kit.E001",
                hint="Build settings with service_kit.conf.service_settings().",
            )
        )
    if getattr(settings, "PLATFORM_PROFILE", "embedded") == "real":
        for name in REAL_PROFILE_REQUIRED:
            if not (os.environ.get(name) or os.environ.get(f"{name}_FILE")):
                errors.append(
                    Error(
                        f"{name} must be set in the real profile.",
                        hint=f"Set {name} or {name}_FILE (a mounted secret).",
                        id="service_kit.E002",
                    )
                )
        if settings.EMAIL_BACKEND in NOT_A_MAIL_TRANSPORT:
            errors.append(
                Error(
                    f"The real profile needs a mail transport, not {settings.EMAIL_BACKEND}.",
                    hint="Set EMAIL_URL (or EMAIL_URL_FILE), e.g. "
                    "smtp+tls://user:password@smtp.example.com:587.",
                    id="service_kit.E005",
                )
            )
    messaging = getattr(settings, "MESSAGING", {})
    if messaging.get("WORKER") and not getattr(settings, "CELERY_BROKER_URL", ""):
        errors.append(Error("CELERY_BROKER_URL is empty.", id="service_kit.E003"))
    if len(settings.SECRET_KEY) < 32:
        errors.append(Warning("SECRET_KEY is shorter than 32 characters.", id="service_kit.W001"))
    from service_kit.messaging.schemas import registry

    for event in messaging.get("CONSUMES", ()):
        if event not in registry:
            errors.append(
                Error(
                    f"Consumed event type {event!r} has no contract "
                    "(<service>/contracts/messages/).",
                    id="service_kit.E004",
                )
            )
    return errors


@register(Tags.compatibility)
def check_media_storage(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """A bucket backend needs its bucket; Google Cloud Storage also the credentials that sign
    its URLs (a service-account key, or workload identity through IAM's signBlob)."""
    from service_kit.media import BACKENDS

    media = settings.STORAGES.get("default", {})
    options = media.get("OPTIONS", {})
    kind = {path: name for name, path in BACKENDS.items()}.get(media.get("BACKEND", ""))
    if kind not in ("s3", "gcs"):
        return []
    variable = "S3_BUCKET" if kind == "s3" else "GCS_BUCKET"
    errors: list[CheckMessage] = []
    if not options.get("bucket_name"):
        errors.append(
            Error(
                f"Media are on {kind.upper()} but no bucket is named.",
                hint=f"Set {variable}, or MEDIA_BACKEND=filesystem for the local disk.",
                id="service_kit.E006",
            )
        )
    if kind == "gcs" and not (options.get("credentials") or options.get("iam_sign_blob")):
        path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
        if not path or not os.path.isfile(path):
            errors.append(
                Error(
                    "Media are on Google Cloud Storage but nothing can sign their URLs: "
                    + (
                        f"GOOGLE_APPLICATION_CREDENTIALS names {path!r}, not a file."
                        if path
                        else "no service-account key is mounted."
                    ),
                    hint="Mount a service-account key and name it in "
                    "GOOGLE_APPLICATION_CREDENTIALS, or with workload identity set "
                    "GCS_IAM_SIGN_BLOB=true (the account needs iam.serviceAccounts.signBlob).",
                    id="service_kit.E007",
                )
            )
    return errors
