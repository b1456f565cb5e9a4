"""Helpers of product_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from service_kit.models import OutboxMessage

S3_KEYS = {"access_key": "testing-access-key", "secret_key": "testing-secret-key"}


@dataclass
class Api:
    """The test client with a token (or none): ``api.get(path)``, ``api.patch(path, {...})``."""

    client: Any
    headers: dict[str, str]

    def request(self, method: str, path: str, body: Any = None, **extra: Any):
        kwargs: dict[str, Any] = {**self.headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, params: dict[str, str] | None = None, **extra: Any):
        if params:
            extra["data"] = params
        return self.request("get", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.request("post", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any):
        return self.request("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any):
        return self.request("delete", path, **extra)

    def upload(
        self,
        path: str,
        content: bytes,
        name: str = "picture.png",
        content_type: str = "image/png",
        **fields: str,
    ):
        """A multipart upload as a browser's form sends it (field ``image``)."""
        form = {"image": SimpleUploadedFile(name, content, content_type), **fields}
        # The test client encodes a dict as multipart/form-data.
        return self.client.post(path, data=form, **self.headers)


def image_bytes(
    image_format: str = "PNG",
    size: tuple[int, int] = (8, 8),
    color: str = "red",
    mode: str = "RGB",
    noise: bool = False,
) -> bytes:
    image = Image.new(mode, size, color)
    if noise:  # random pixels do not compress: a small image makes a large file
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def events(event_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The outbox, oldest first: (type, data) of each event."""
    rows = OutboxMessage.objects.order_by("created_at", "id")
    found = [(row.envelope["type"], row.envelope["data"]) for row in rows]
    return [item for item in found if event_type is None or item[0] == event_type]


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
