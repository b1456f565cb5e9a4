"""Helpers every service's in-process tests use: an API client with a token, messages as their
producers send them, what the outbox holds, and image files."""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

#: A valid shipping address (docs/api.md#resources), for the orders tests, e2e and benchmarks place.
SHIPPING_ADDRESS = {
    "name": "Ada",
    "line1": "1 Main St",
    "line2": "",
    "city": "Berlin",
    "region": "",
    "postal_code": "10115",
    "country": "DE",
}


@dataclass
class Api:
    """Django's test client with a token (or none): ``api.get(path, {"page": 2})``,
    ``api.post(path, {...})`` sends JSON, ``api.upload(path, content, field="image")`` a form."""

    client: Any
    headers: dict[str, str]

    def request(self, method: str, path: str, body: Any = None, **extra: Any):
        kwargs: dict[str, Any] = {**self.headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, params: dict | None = None, **extra: Any):
        return self.client.get(path, params or {}, **self.headers, **extra)

    def post(self, path: str, body: Any = None, **extra: Any):
        return self.request("post", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any):
        return self.request("put", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any):
        return self.request("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any):
        return self.request("delete", path, **extra)

    def upload(
        self,
        path: str,
        content: bytes,
        *,
        field: str = "image",
        name: str = "picture.png",
        content_type: str = "image/png",
        method: str = "post",
        **fields: str,
    ):
        """A multipart upload as a browser's form sends it."""
        from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

        form = {field: SimpleUploadedFile(name, content, content_type), **fields}
        if method == "post":  # the test client encodes a dict as multipart/form-data itself
            return self.client.post(path, data=form, **self.headers)
        return getattr(self.client, method)(
            path,
            data=encode_multipart(BOUNDARY, form),
            content_type=MULTIPART_CONTENT,
            **self.headers,
        )


def envelope(message_type: str, **data: Any) -> dict[str, Any]:
    """A message as its producer's outbox sends it (a new message id each time)."""
    from service_kit.messaging import Envelope

    return Envelope.new(message_type, data).as_dict()


def published(*types: str) -> list[tuple[str, dict[str, Any]]]:
    """``(type, data)`` of every outbox row (of ``types``, when given), oldest first."""
    from service_kit.models import OutboxMessage

    rows = OutboxMessage.objects.order_by("created_at", "id").values_list("envelope", flat=True)
    return [(e["type"], e["data"]) for e in rows if not types or e["type"] in types]


def image_bytes(
    size: tuple[int, int] = (8, 8),
    *,
    fmt: str = "PNG",
    color: str = "red",
    mode: str = "RGB",
    noise: bool = False,
) -> bytes:
    """A real image file; ``noise``: random pixels, which do not compress (a large file)."""
    from PIL import Image

    image = Image.new(mode, size, color)
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def at_once(work, arguments, timeout: float = 60.0) -> list:
    """``work(argument)`` for every argument, each in its own thread with its own database
    connection, all released together: real concurrent transactions. Answers the results in
    the order of ``arguments``; the first error any thread raised is raised here."""
    from django.db import close_old_connections, connection

    arguments = list(arguments)
    start = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)
    errors: list[BaseException] = []

    def run(index: int, argument) -> None:
        close_old_connections()
        try:
            start.wait()
            results[index] = work(argument)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return results
