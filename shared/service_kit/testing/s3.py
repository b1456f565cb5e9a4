"""A real S3 protocol server for tests: moto's server on loopback, spoken to over HTTP like any
S3 endpoint, and Django's default storage pointed at a fresh bucket of it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

KEYS = {"access_key": "testing-access-key", "secret_key": "testing-secret-key"}


@dataclass
class S3:
    endpoint_url: str
    bucket: str
    client: Any

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


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
def s3(s3_server, settings) -> S3:
    """A fresh bucket, and the default storage pointed at it as the kit's S3 profile does."""
    import boto3
    from botocore.config import Config

    bucket = f"media-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)  # django-storages does not create buckets
    # Through pytest-django's ``settings``: it undoes every change of a test in reverse order.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                **KEYS,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "querystring_auth": True,  # as in production: presigned URLs
                "file_overwrite": False,
            },
        },
    }
    return S3(endpoint_url=s3_server, bucket=bucket, client=client)
