"""Secrets out of everything kept and shown: log lines, published outbox rows, dead letters, admin
pages. A secret is known by the name of its field (``payment_token``, ``password``,
``client_secret``) or by its shape (a JWT, a password reset token, a client secret, a card token).

A secret travels in a message only as long as its consumer needs it (``payment.charge`` carries
the card token to payment_service); what stays behind and every page that shows an envelope get
:func:`redacted` copies, and every log line goes through the log filter built on :func:`redact`.
``platform_tools.testing.secrets`` looks for leaks with the same shapes.
"""

from __future__ import annotations

import re
from typing import Any

#: Shown instead of a secret's value.
REDACTED = "[redacted]"

#: Field names whose value is a secret wherever they appear (compared lower-case) …
SECRET_FIELDS = frozenset(
    {
        "access",
        "authorization",
        "card_number",
        "cookie",
        "cvc",
        "dsn",
        "otp",
        "refresh",
        "token",
    }
)
#: … and names that hold one of these (``reset_token``, ``api_key``, ``old_password``).
SECRET_NAME_PARTS = re.compile(r"password|passwd|secret|_token$|api[_-]?key", re.IGNORECASE)

#: What a secret looks like wherever it is written.
SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    # header.payload.signature, both JSON parts base64url of '{"…'
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # auth_service's password reset token, <uidb64>.<timestamp base36>-<32 hex> (Django's
    # PasswordResetTokenGenerator; the timestamp, seconds since 2001, has six digits until 2070):
    # its secret part, the HMAC after the dash (starting with the literal dash, which the regex
    # engine finds fast). The ".<timestamp>" before it keeps ids like "probe-<uuid hex>" out.
    "reset_token": re.compile(r"-[0-9a-f]{32}(?![0-9a-f])(?<=\.[0-9a-z]{6}-[0-9a-f]{32})"),
    # a generated service client secret: secrets.token_urlsafe(32), 43 characters of base64url
    # (upper and lower case mixed: no hex digest, UUID or snake_case name looks like it)
    "client_secret": re.compile(
        r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,42}[A-Z])(?=[A-Za-z0-9_-]{0,42}[a-z])"
        r"[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
    ),
    # a card token from the payment provider (Stripe-style tok_…)
    "card_token": re.compile(r"tok_(?<![A-Za-z0-9]tok_)[A-Za-z0-9_]+"),
}
#: What a text must hold before a shape can match in it: tested first, these cost next to nothing
#: (every string of every log line is searched).
_CAN_HOLD = {
    "jwt": lambda text: "eyJ" in text,
    "reset_token": lambda text: "-" in text,
    "client_secret": lambda text: len(text) >= 43,
    "card_token": lambda text: "tok_" in text,
}


def is_secret(name: str) -> bool:
    """Whether a field of this name holds a secret, whatever its value looks like."""
    return name.lower() in SECRET_FIELDS or SECRET_NAME_PARTS.search(name) is not None


def redact(text: str) -> str:
    """``text`` with everything shaped like a secret replaced by :data:`REDACTED`."""
    for kind, shape in SECRET_SHAPES.items():
        if _CAN_HOLD[kind](text):
            text = shape.sub(REDACTED, text)
    return text


def redacted(value: Any, name: str = "") -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, scalars; ``name`` its field's name) with the
    value of every secret field replaced by :data:`REDACTED` and every string cleaned by
    :func:`redact`, at any depth."""
    if name and is_secret(name) and value not in (None, "", b""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def was_redacted(value: Any) -> bool:
    """Whether ``value`` lost a secret to :func:`redacted` (it cannot be sent again as it is)."""
    if isinstance(value, str):
        return REDACTED in value
    if isinstance(value, dict):
        return any(was_redacted(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(was_redacted(item) for item in value)
    return False
