"""Helpers of user_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from service_kit.messaging import Envelope

S3_KEYS = {"access_key": "testing-access-key", "secret_key": "testing-secret-key"}


@dataclass
class Api:
    """The test client with a token: ``api.get(path)``, ``api.patch(path, {...})``."""

    client: Any
    headers: dict[str, str]

    def request(self, method: str, path: str, body: Any = None, **extra: Any):
        kwargs: dict[str, Any] = {**self.headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, **extra: Any):
        return self.request("get", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.request("post", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any):
        return self.request("put", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any):
        return self.request("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any):
        return self.request("delete", path, **extra)


def envelope(event_type: str, **data: Any) -> dict[str, Any]:
    """A message as auth_service's outbox sends it (a new message id each time)."""
    return Envelope.new(event_type, data).as_dict()


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "red", noise: bool = False) -> bytes:
    image = Image.new("RGB", size, color)
    if noise:  # random pixels do not compress: a small image makes a large file
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


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


def upload(api: Api, content: bytes, name: str = "avatar.png", content_type: str = "image/png"):
    """``PUT me/avatar/`` as a browser's form sends it (multipart, field ``avatar``)."""
    body = encode_multipart(BOUNDARY, {"avatar": SimpleUploadedFile(name, content, content_type)})
    return api.client.put(
        "/api/v1/users/me/avatar/", data=body, content_type=MULTIPART_CONTENT, **api.headers
    )
