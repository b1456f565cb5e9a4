"""Request bodies sent chunked (``Transfer-Encoding: chunked``, no ``Content-Length``).

WSGI has no portable way to hand an application a body of unknown length (PEP 3333). granian
passes the de-chunked bytes in ``wsgi.input`` but no ``CONTENT_LENGTH``, and Django reads a body
without one as empty: a chunked ``PATCH`` answered 200 and changed nothing. So such a body is read
here first, whole and up to the size limit, and handed on with its length, as if it had been sent
with one (:class:`WholeBodies`, around every service's WSGI application; the gateway's edge does
the same before it passes a body on):

- past the limit: 413 ``payload_too_large``, nothing more read;
- nothing at all: 400 ``parse_error``. granian ends the stream early and silently where the
  chunked framing is malformed (a size that is not hexadecimal, data overrunning its size), so an
  empty chunked body is taken for a malformed one. A body cut short further on is a JSON document
  cut short, which the API's parser refuses with the same code.

Bodies up to ``SPOOL_BYTES`` stay in memory, larger ones go to a temporary file.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any

from service_kit.api.errors import error_body
from service_kit.context import REQUEST_ID_HEADER, clean_request_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

SPOOL_BYTES = 256 * 1024
BLOCK = 64 * 1024


class BodyRefused(Exception):
    """The body cannot be passed on: the answer to give instead."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def is_length(value: str) -> bool:
    """A Content-Length as HTTP writes it: ASCII digits only. ``str.isdigit`` alone also takes
    ``²`` or ``١٢``, which ``int()`` then refuses or reads (RFC 9110, section 8.6)."""
    return value.isascii() and value.isdigit()


def is_chunked(environ: WSGIEnvironment) -> bool:
    """A body is coming whose length the request does not say."""
    return (
        not environ.get("CONTENT_LENGTH")
        and "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    )


def read_whole(stream: IO[bytes], limit: int) -> tuple[IO[bytes], int]:
    """The body of unknown length in ``stream``, read to its end: a file at its start, its size.

    :class:`BodyRefused` past ``limit`` bytes (413) or when nothing arrived (400)."""
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed on open
    size = 0
    try:
        while block := stream.read(BLOCK):
            size += len(block)
            if size > limit:
                raise BodyRefused(
                    413,
                    "payload_too_large",
                    "The request body is too large.",
                    {"max_bytes": limit},
                )
            body.write(block)
        if not size:
            raise BodyRefused(400, "parse_error", "The chunked request body is empty or malformed.")
    except BodyRefused:
        body.close()
        raise
    except Exception as exc:  # the client went away mid-body: whatever the server raises
        body.close()
        raise BodyRefused(400, "parse_error", "The request body could not be read.") from exc
    body.seek(0)
    return body, size


class WholeBodies:
    """WSGI middleware: a chunked request body is read whole before ``application`` sees it, and
    given to it with its ``CONTENT_LENGTH`` (module docstring)."""

    def __init__(self, application: WSGIApplication, *, limit: int) -> None:
        self.application = application
        self.limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if is_chunked(environ):
            try:
                body, size = read_whole(environ["wsgi.input"], self.limit)
            except BodyRefused as refusal:
                return self.refuse(environ, start_response, refusal)
            environ["wsgi.input"] = body
            environ["CONTENT_LENGTH"] = str(size)
            del environ["HTTP_TRANSFER_ENCODING"]  # the body now goes by its length
        return self.application(environ, start_response)

    @staticmethod
    def refuse(
        environ: WSGIEnvironment, start_response: StartResponse, refusal: BodyRefused
    ) -> list[bytes]:
        request_id = clean_request_id(environ.get("HTTP_X_REQUEST_ID"))
        logger.warning(
            "http.body_refused",
            extra={
                "http.request.method": environ.get("REQUEST_METHOD"),
                "url.path": environ.get("PATH_INFO"),
                "http.response.status_code": refusal.status,
                "error.code": refusal.code,
                "request_id": request_id,
            },
        )
        content = json.dumps(error_body(refusal.code, refusal.message, refusal.details)).encode()
        start_response(
            f"{refusal.status} {HTTPStatus(refusal.status).phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(content))),
                ("X-Content-Type-Options", "nosniff"),
                (REQUEST_ID_HEADER, request_id),
            ],
        )
        return [content]
