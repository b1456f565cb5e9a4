"""Chunked request bodies reach every service's Django whole, with their length (or a 4xx).

In process, as granian hands them over: the de-chunked bytes in ``wsgi.input``, no
``CONTENT_LENGTH``. (On real processes, through the gateway and not: gateway/tests/test_proxy.py.)
"""

from __future__ import annotations

import io
import json

import pytest

from service_kit.ops.bodies import SPOOL_BYTES, WholeBodies


class Recorder:
    """The application behind: what it was given."""

    def __init__(self):
        self.seen: dict | None = None

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.seen = {
            "length": environ.get("CONTENT_LENGTH"),
            "body": environ["wsgi.input"].read(length),
            "chunked": "HTTP_TRANSFER_ENCODING" in environ,
        }
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class Broken(io.RawIOBase):
    """A client that went away mid-body."""

    def read(self, size=-1):
        raise OSError("connection reset")


def send(app, body, *, chunked=True, headers=None):
    environ = {
        "REQUEST_METHOD": "PATCH",
        "PATH_INFO": "/api/v1/things/1/",
        "wsgi.input": body if hasattr(body, "read") else io.BytesIO(body),
        **(headers or {}),
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(response_headers)

    content = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], content


@pytest.mark.parametrize("size", [1, 1000, SPOOL_BYTES + 1])  # in memory, and spooled to disk
def test_a_chunked_body_is_given_whole_with_its_length(size):
    inner = Recorder()
    body = b"x" * size

    status, _, _ = send(WholeBodies(inner, limit=SPOOL_BYTES * 2), body)

    assert status == 200
    assert inner.seen == {"length": str(size), "body": body, "chunked": False}


def test_a_body_with_its_length_is_left_alone():
    inner = Recorder()
    status, _, _ = send(
        WholeBodies(inner, limit=10),
        b"0123456789ab",
        chunked=False,
        headers={"CONTENT_LENGTH": "12"},
    )
    assert status == 200 and inner.seen == {
        "length": "12",
        "body": b"0123456789ab",
        "chunked": False,
    }


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [
        (b"x" * 101, 413, "payload_too_large", {"max_bytes": 100}),
        (b"", 400, "parse_error", {}),  # granian's reading of a malformed chunked body
        (Broken(), 400, "parse_error", {}),
    ],
    ids=["too-large", "empty-or-malformed", "cut-off"],
)
def test_a_chunked_body_that_cannot_be_given_whole_is_refused(body, status, code, details):
    inner = Recorder()

    answered, headers, content = send(
        WholeBodies(inner, limit=100), body, headers={"HTTP_X_REQUEST_ID": "chunky-1"}
    )

    assert inner.seen is None  # the application never saw it
    assert answered == status
    assert json.loads(content)["error"]["code"] == code
    assert json.loads(content)["error"]["details"] == details
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"] == "chunky-1"
