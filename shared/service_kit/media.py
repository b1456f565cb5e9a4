"""Where media (avatars, product images) live: the local disk, S3 or Google Cloud Storage.

``media_storage()`` builds Django's default storage from the environment:

- ``MEDIA_BACKEND`` (``filesystem``, ``s3`` or ``gcs``) chooses; left out, ``GCS_BUCKET`` means
  ``gcs``, ``S3_BUCKET`` means ``s3`` and neither the local disk (embedded profile).
- S3: ``S3_BUCKET``, ``S3_ENDPOINT_URL``, ``S3_REGION``, ``S3_ADDRESSING_STYLE``,
  ``S3_CUSTOM_DOMAIN``, keys in ``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY`` (or a cloud role).
- GCS: ``GCS_BUCKET`` (a name or ``gs://name``), ``GCS_PROJECT_ID``; credentials from a mounted
  service-account key (``GOOGLE_APPLICATION_CREDENTIALS``), or workload identity with
  ``GCS_IAM_SIGN_BLOB=true`` (URLs then signed by IAM's signBlob, as
  ``GCS_SERVICE_ACCOUNT_EMAIL``). ``STORAGE_EMULATOR_HOST`` points the client at an emulator.

Both keep objects private and hand out signed URLs that expire after ``MEDIA_URL_LIFETIME``
seconds (3600 unless set); a file never overwrites another.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

BACKENDS = {
    "filesystem": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
    "gcs": "service_kit.gcs.GoogleCloudStorage",
}
#: Seconds a signed media URL serves its object, on every backend.
DEFAULT_URL_LIFETIME = 3600


def media_backend() -> str:
    """``filesystem``, ``s3`` or ``gcs``, as the environment says."""
    chosen = os.environ.get("MEDIA_BACKEND", "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise ImproperlyConfigured(
                f"MEDIA_BACKEND={chosen!r}: expected one of {', '.join(BACKENDS)}."
            )
        return chosen
    gcs, s3 = os.environ.get("GCS_BUCKET"), os.environ.get("S3_BUCKET")
    if gcs and s3:
        raise ImproperlyConfigured(
            "Both GCS_BUCKET and S3_BUCKET are set: say which with MEDIA_BACKEND (gcs or s3)."
        )
    return "gcs" if gcs else "s3" if s3 else "filesystem"


def gcs_bucket_name(value: str | None) -> str | None:
    """``my-bucket`` or ``gs://my-bucket`` (a trailing slash allowed): the bucket's name."""
    if not value:
        return None
    return value.removeprefix("gs://").rstrip("/") or None


def media_storage(secret: Any) -> dict[str, Any]:
    """The ``STORAGES["default"]`` entry; ``secret(name)`` reads a setting that may be a
    mounted file (``service_kit.conf.env_value``)."""
    backend = media_backend()
    lifetime = env.int("MEDIA_URL_LIFETIME", DEFAULT_URL_LIFETIME)
    if backend == "s3":
        options: dict[str, Any] = {
            "bucket_name": os.environ.get("S3_BUCKET") or None,
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "access_key": secret("S3_ACCESS_KEY_ID"),
            "secret_key": secret("S3_SECRET_ACCESS_KEY"),
            "region_name": os.environ.get("S3_REGION", "us-east-1"),
            "addressing_style": os.environ.get("S3_ADDRESSING_STYLE", "path"),
            "custom_domain": os.environ.get("S3_CUSTOM_DOMAIN") or None,
            "querystring_auth": env.bool("S3_QUERYSTRING_AUTH", True),
            "querystring_expire": lifetime,
            "signature_version": "s3v4",  # X-Amz-Expires: a lifetime, as GCS's X-Goog-Expires
            "file_overwrite": False,
        }
    elif backend == "gcs":
        options = {
            "bucket_name": gcs_bucket_name(os.environ.get("GCS_BUCKET")),
            "project_id": os.environ.get("GCS_PROJECT_ID") or None,
            "emulator_host": os.environ.get("STORAGE_EMULATOR_HOST") or None,
            "querystring_auth": True,
            "expiration": timedelta(seconds=lifetime),
            "iam_sign_blob": env.bool("GCS_IAM_SIGN_BLOB", False),
            "sa_email": os.environ.get("GCS_SERVICE_ACCOUNT_EMAIL") or None,
            "file_overwrite": False,
        }
    else:
        return {"BACKEND": BACKENDS["filesystem"]}
    return {"BACKEND": BACKENDS[backend], "OPTIONS": options}


def url_lifetime(storage: dict[str, Any]) -> int | None:
    """Seconds the signed URLs of a ``STORAGES`` entry live (None: not signed)."""
    options = storage.get("OPTIONS", {})
    if storage["BACKEND"] == BACKENDS["s3"] and options.get("querystring_auth", True):
        return int(options.get("querystring_expire", DEFAULT_URL_LIFETIME))
    if storage["BACKEND"] == BACKENDS["gcs"] and options.get("querystring_auth", True):
        return int(options["expiration"].total_seconds())
    return None
