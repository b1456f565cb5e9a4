"""Per-request (or per-task) context: the request id and the acting user, for logs and calls."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


def clean_request_id(value: str | None) -> str:
    """The caller's id when it is sane (printable, at most 128 characters), else a new one."""
    if value and len(value) <= 128 and value.isascii() and value.isprintable():
        return value
    return new_request_id()
