from __future__ import annotations

import logging
import re
import traceback

from .context import request_id_var, user_id_var

#: What a secret looks like wherever it is written: a log line, a page, an API answer. The log
#: filter below removes them; service_kit.testing.secrets looks for them with the same shapes.
SECRET_SHAPES: dict[str, re.Pattern] = {
    # header.payload.signature, both JSON parts base64url of '{"…'
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # auth_service's password reset token, <uidb64>.<timestamp base36>-<32 hex> (Django's
    # PasswordResetTokenGenerator): its secret part, the HMAC after the dash (starting with the
    # literal dash, which the regex engine finds fast)
    "reset_token": re.compile(r"-[0-9a-f]{32}(?![0-9a-f])(?<=[0-9a-z]-[0-9a-f]{32})"),
    # a generated service client secret: secrets.token_urlsafe(32), 43 characters of base64url
    # (upper and lower case mixed: no hex digest, UUID or snake_case name looks like it)
    "client_secret": re.compile(
        r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,42}[A-Z])(?=[A-Za-z0-9_-]{0,42}[a-z])"
        r"[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
    ),
    # a card token from the payment provider (Stripe-style tok_…)
    "card_token": re.compile(r"tok_(?<![A-Za-z0-9]tok_)[A-Za-z0-9_]+"),
}
#: Structured fields whose value is a secret, whatever it looks like.
SECRET_KEY_NAMES = re.compile(
    r"password|passwd|secret|token|authorization|cookie|api[_-]?key|dsn", re.IGNORECASE
)
REDACTED = "[REDACTED]"
#: A LogRecord's own attributes; every other one came with ``extra``.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


#: What a text must hold before a shape can match in it: tested first, these cost next to nothing
#: (every string of every log line is searched).
_CAN_HOLD = {
    "jwt": lambda text: "eyJ" in text,
    "reset_token": lambda text: "-" in text,
    "client_secret": lambda text: len(text) >= 43,
    "card_token": lambda text: "tok_" in text,
}


def redact(text: str) -> str:
    """``text`` with everything shaped like a secret replaced by ``[REDACTED]``."""
    for kind, shape in SECRET_SHAPES.items():
        if _CAN_HOLD[kind](text):
            text = shape.sub(REDACTED, text)
    return text


def redact_value(value, key: str = ""):
    """A structured value with secrets taken out: by the name of its key, or by its shape."""
    if key and SECRET_KEY_NAMES.search(key) and value not in (None, "", b""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


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
            record.__dict__[key] = redact_value(record.__dict__[key], key)
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
