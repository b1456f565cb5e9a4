"""A real S3 protocol server for tests: moto's server on loopback, spoken to over HTTP like any
S3 endpoint, and Django's default storage pointed at a fresh bucket of it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

KEYS = {"access_key": "testing-access-key", "secret_key": "testing-secret-key"}


@dataclass
class S3:
    endpoint_url: str
    bucket: str
    client: Any
    name = "s3"

    def names(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def content_type(self, key: str) -> str:
        return self.client.head_object(Bucket=self.bucket, Key=key)["ContentType"]

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def object_url(self, key: str) -> str:
        """The object's address, as a signed URL gives it before its query."""
        return f"{self.endpoint_url}/{self.bucket}/{key}"

    def check_signed(self, url: str, lifetime: int) -> None:
        """A presigned (SigV4) URL with our key that expires after ``lifetime`` seconds (moto
        serves it; the real S3 checks the signature)."""
        query = dict(parse_qsl(urlsplit(url).query))
        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256", url
        assert query["X-Amz-Credential"].startswith(f"{KEYS['access_key']}/"), url
        assert query["X-Amz-Expires"] == str(lifetime), url
        assert query["X-Amz-Signature"], url


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of the test keys on the server at ``endpoint`` (path-style addressing)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, settings, monkeypatch) -> S3:
    """A fresh bucket, and the default storage pointed at it by the kit's S3 settings."""
    from service_kit.conf import env_value
    from service_kit.media import media_storage

    bucket = f"media-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_server)
    client.create_bucket(Bucket=bucket)  # django-storages does not create buckets
    for name, value in {
        "MEDIA_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_server,
        "S3_ACCESS_KEY_ID": KEYS["access_key"],
        "S3_SECRET_ACCESS_KEY": KEYS["secret_key"],
    }.items():
        monkeypatch.setenv(name, value)
    # Through pytest-django's ``settings``: it undoes every change of a test in reverse order.
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(env_value)}
    return S3(endpoint_url=s3_server, bucket=bucket, client=client)
