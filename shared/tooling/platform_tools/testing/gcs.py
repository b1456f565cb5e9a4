"""A real Google Cloud Storage protocol server for tests: ``gcp-storage-emulator`` on loopback,
in a process of its own, and Django's default storage pointed at a fresh bucket of it.

The emulator takes requests without credentials and serves signed URLs without checking their
signatures, so :meth:`GCS.check_signed` checks each one itself: a V4 signature by the test's
own service-account key (a fresh RSA key in a service-account JSON file, as Google issues them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from .processes import Proc, free_port

PROJECT = "platform-tests"
ACCOUNT = f"media@{PROJECT}.iam.gserviceaccount.com"


@dataclass
class ServiceAccount:
    """A service-account key as Google issues it (the JSON file) and its public half."""

    info: dict[str, str]
    public_key: Any

    @classmethod
    def make(cls) -> ServiceAccount:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": ACCOUNT,
            "client_id": "100000000000000000001",
            # never called: the emulator takes requests without a token
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        return cls(info=info, public_key=key.public_key())

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.info))
        path.chmod(0o600)
        return path


def start_emulator(folder: Path) -> Proc:
    """``gcp-storage-emulator`` in memory on a free loopback port, answering."""
    port = free_port()
    proc = Proc(
        "gcs",
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--quiet",
        ],
        folder,
        {**os.environ, "PYTHONUNBUFFERED": "1"},
        folder / "logs" / "gcs.log",
        port=port,
    ).start()
    try:
        return proc.wait_http("/", timeout=60)
    except BaseException:
        proc.stop()
        raise


def emulator_client(url: str):
    """A google-cloud-storage client of the emulator (no credentials: it takes none)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": url},
    )


@dataclass
class GCS:
    endpoint_url: str
    bucket: str
    client: Any
    account: ServiceAccount
    name = "gcs"

    def names(self) -> list[str]:
        return sorted(blob.name for blob in self.client.list_blobs(self.bucket))

    def body(self, key: str) -> bytes:
        return self.client.bucket(self.bucket).blob(key).download_as_bytes()

    def content_type(self, key: str) -> str:
        return self.client.bucket(self.bucket).get_blob(key).content_type

    def put(self, key: str, body: bytes) -> None:
        self.client.bucket(self.bucket).blob(key).upload_from_string(body)

    def object_url(self, key: str) -> str:
        """The object's address, as a signed URL gives it before its query."""
        return f"{self.endpoint_url}/{self.bucket}/{quote(key)}"

    def check_signed(self, url: str, lifetime: int) -> None:
        """A V4 signed URL (GOOG4-RSA-SHA256) of our service account, just made, expiring after
        ``lifetime`` seconds, whose signature the account's public key verifies: the canonical
        request rebuilt here from the URL, as Google's servers rebuild it."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        signature = bytes.fromhex(query.pop("X-Goog-Signature"))
        assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256", url
        assert query["X-Goog-Expires"] == str(lifetime), url
        assert query["X-Goog-SignedHeaders"] == "host", url
        account, day, *scope = query["X-Goog-Credential"].split("/")
        assert account == self.account.info["client_email"], url
        assert scope == ["auto", "storage", "goog4_request"], url
        signed_at = dt.datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.UTC
        )
        assert abs(dt.datetime.now(dt.UTC) - signed_at) < dt.timedelta(minutes=5), url
        assert day == signed_at.strftime("%Y%m%d"), url
        canonical_query = "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}"
            for name, value in sorted(query.items())
        )
        headers = f"host:{parts.netloc}\n"
        canonical_request = "\n".join(
            ["GET", parts.path, canonical_query, headers, "host", "UNSIGNED-PAYLOAD"]
        )
        to_sign = "\n".join(
            [
                "GOOG4-RSA-SHA256",
                query["X-Goog-Date"],
                f"{day}/auto/storage/goog4_request",
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        # raises InvalidSignature unless our key signed exactly this request
        self.account.public_key.verify(
            signature, to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
        )


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory) -> Iterator[str]:
    proc = start_emulator(tmp_path_factory.mktemp("gcs"))
    yield proc.url
    proc.stop()


@pytest.fixture(scope="session")
def gcs_account() -> ServiceAccount:
    """One key for the run (an RSA key takes a while to make)."""
    return ServiceAccount.make()


@pytest.fixture
def gcs(gcs_server, gcs_account, settings, monkeypatch, tmp_path) -> GCS:
    """A fresh bucket, and the default storage pointed at it by the kit's GCS settings: the
    emulator for the API calls, the service-account key file for the signatures."""
    from service_kit.conf import env_value
    from service_kit.media import media_storage

    client = emulator_client(gcs_server)
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(bucket)  # django-storages does not create buckets
    key_file = gcs_account.write(tmp_path / "service-account.json")
    for name, value in {
        "MEDIA_BACKEND": "gcs",
        "GCS_BUCKET": f"gs://{bucket}",
        "STORAGE_EMULATOR_HOST": gcs_server,
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
    }.items():
        monkeypatch.setenv(name, value)
    # Through pytest-django's ``settings``: it undoes every change of a test in reverse order.
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(env_value)}
    return GCS(endpoint_url=gcs_server, bucket=bucket, client=client, account=gcs_account)


@pytest.fixture(params=["s3", "gcs"])
def media(request):
    """Each test twice: media on S3 (moto) and on Google Cloud Storage (the emulator)."""
    return request.getfixturevalue(request.param)
