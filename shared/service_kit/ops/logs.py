from __future__ import annotations

import logging
import traceback

from service_kit import tracing
from service_kit.context import request_id_var, user_id_var
from service_kit.redaction import redact, redacted

#: A LogRecord's own attributes; every other one came with ``extra``.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Puts the service name, request id and user id on every log record (ECS field names)."""

    def __init__(self, service: str = "", name: str = ""):
        super().__init__(name)
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.setdefault("service.name", self.service)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        user_id = getattr(record, "user_id", None) or user_id_var.get()
        record.__dict__.pop("request_id", None)
        record.__dict__.pop("user_id", None)
        if request_id:
            record.__dict__["http.request.id"] = request_id
            record.__dict__["trace.id"] = request_id
        # With tracing on, the real trace and span (the request id stays in http.request.id).
        ids = tracing.current_ids() if tracing.ON else None
        if ids:
            record.__dict__["trace.id"], record.__dict__["span.id"] = ids
        if user_id:
            record.__dict__["user.id"] = user_id
        return True


class RedactFilter(logging.Filter):
    """Takes tokens, passwords, client secrets and card tokens out of every log line before it
    is written (and shipped to Elasticsearch): from the message and its arguments, from the
    ``extra`` fields (by key name, and by shape) and from an exception's text. Defence in depth:
    code should not log them in the first place."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: left to the formatter
            message = None
        if message is not None:
            record.msg, record.args = redact(message), None
        for key in record.__dict__.keys() - _RECORD_FIELDS:
            record.__dict__[key] = redacted(record.__dict__[key], key)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        self._redact_exception(record)
        return True

    def _redact_exception(self, record: logging.LogRecord) -> None:
        if not (isinstance(record.exc_info, tuple) and record.exc_info[1] is not None):
            return
        kind, error, tb = record.exc_info
        text = "".join(traceback.format_exception(kind, error, tb))
        clean = redact(text)
        if clean == text:
            return
        # An exception object cannot be cleaned: its redacted text goes in the ECS error fields
        # (what the formatter would have written), and the exception itself is dropped.
        record.exc_info = None
        record.exc_text = None
        record.__dict__["error.type"] = kind.__name__
        record.__dict__["error.message"] = redact(str(error))
        record.__dict__["error.stack_trace"] = clean
