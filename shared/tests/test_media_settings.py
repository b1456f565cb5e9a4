"""Where media live (service_kit.media) and the checks that refuse a half-configured bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from platform_tools.testing.gcs import ServiceAccount
from service_kit.checks import check_media_storage
from service_kit.conf import REPO_ROOT, env_value
from service_kit.media import media_storage, url_lifetime

MEDIA_VARIABLES = (
    "MEDIA_BACKEND",
    "MEDIA_URL_LIFETIME",
    "S3_BUCKET",
    "GCS_BUCKET",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCS_IAM_SIGN_BLOB",
)


@pytest.fixture
def environment(monkeypatch):
    for name in MEDIA_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def storage(**variables: str) -> dict:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return media_storage(env_value)

    return storage


def test_without_a_bucket_media_stay_on_the_local_disk(environment):
    assert environment() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


@pytest.mark.parametrize(
    "variables",
    [{"GCS_BUCKET": "gs://shop-media"}, {"GCS_BUCKET": "shop-media", "MEDIA_BACKEND": "GCS"}],
)
def test_a_gcs_bucket_chooses_google_cloud_storage(environment, variables):
    storage = environment(**variables)

    assert storage["BACKEND"] == "service_kit.gcs.GoogleCloudStorage"
    assert storage["OPTIONS"]["bucket_name"] == "shop-media"
    assert storage["OPTIONS"]["querystring_auth"] is True
    assert storage["OPTIONS"]["file_overwrite"] is False


def test_both_backends_sign_urls_for_the_same_lifetime(environment):
    assert url_lifetime(environment(S3_BUCKET="media")) == 3600
    assert url_lifetime(environment(MEDIA_BACKEND="gcs", GCS_BUCKET="media")) == 3600
    gcs = environment(MEDIA_URL_LIFETIME="600")
    assert gcs["OPTIONS"]["expiration"] == timedelta(seconds=600)
    assert url_lifetime(environment(MEDIA_BACKEND="s3")) == 600


def test_an_unknown_backend_is_refused(environment):
    with pytest.raises(ImproperlyConfigured, match="MEDIA_BACKEND='azure': expected one of"):
        environment(MEDIA_BACKEND="azure")


def test_two_buckets_without_a_choice_are_refused(environment):
    with pytest.raises(ImproperlyConfigured, match="say which with MEDIA_BACKEND"):
        environment(S3_BUCKET="a-bucket", GCS_BUCKET="gs://another")
    assert environment(MEDIA_BACKEND="s3")["BACKEND"] == "storages.backends.s3.S3Storage"


def ids(settings, storage) -> list[str]:
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    return [message.id for message in check_media_storage(None)]


def test_a_bucket_backend_without_a_bucket_is_refused(environment, settings):
    assert ids(settings, environment(MEDIA_BACKEND="s3")) == ["service_kit.E006"]
    assert ids(settings, environment(MEDIA_BACKEND="gcs", GCS_IAM_SIGN_BLOB="true")) == [
        "service_kit.E006"
    ]


def test_gcs_without_anything_to_sign_its_urls_is_refused(environment, settings, tmp_path):
    assert ids(settings, environment(GCS_BUCKET="media")) == ["service_kit.E007"]

    environment(GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "absent.json"))
    (message,) = check_media_storage(None)
    assert message.id == "service_kit.E007"
    assert "absent.json" in message.msg and "not a file" in message.msg


def test_gcs_with_a_key_file_or_workload_identity_passes(environment, settings, tmp_path):
    key = ServiceAccount.make().write(tmp_path / "key.json")
    with_key = environment(GCS_BUCKET="media", GOOGLE_APPLICATION_CREDENTIALS=str(key))
    assert ids(settings, with_key) == []
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS")
    assert ids(settings, environment(GCS_IAM_SIGN_BLOB="true")) == []


def test_manage_check_refuses_a_half_configured_bucket(tmp_path):
    """A service's own ``manage.py check``, as its migration Job runs it before it starts."""
    skip = {*MEDIA_VARIABLES, "DJANGO_SETTINGS_MODULE"}
    env = {name: value for name, value in os.environ.items() if name not in skip}
    env.update(PLATFORM_DATA_DIR=str(tmp_path), MEDIA_BACKEND="gcs")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT / "user_service",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "(service_kit.E006) Media are on GCS but no bucket is named." in result.stderr
    assert "HINT: Set GCS_BUCKET, or MEDIA_BACKEND=filesystem" in result.stderr
    assert "(service_kit.E007) Media are on Google Cloud Storage but nothing" in result.stderr


def test_a_signed_url_is_checked_against_the_test_key(gcs):
    name = default_storage.save("checked/a.txt", ContentFile(b"hello"))
    url = default_storage.url(name)
    gcs.check_signed(url, lifetime=3600)

    # a longer lifetime written into the URL: the signature no longer matches
    with pytest.raises(InvalidSignature):
        gcs.check_signed(url.replace("X-Goog-Expires=3600", "X-Goog-Expires=7200"), 7200)
    # signed by another key
    gcs.account = ServiceAccount.make()
    with pytest.raises(InvalidSignature):
        gcs.check_signed(url, lifetime=3600)
