"""Secrets out of what is kept and shown: a message's card token, a password, a client secret.

A secret travels in a message only as long as its consumer needs it (``payment.charge`` carries
the card token to payment_service); what stays behind (the published outbox row, a dead letter)
and every admin page that shows an envelope get :func:`redacted` copies.
"""

from __future__ import annotations

from typing import Any

#: Shown instead of a secret's value.
REDACTED = "[redacted]"
#: Field names whose value is a secret wherever they appear in a payload (compared lower-case).
SECRET_FIELDS = frozenset(
    {
        "payment_token",
        "card_number",
        "cvc",
        "password",
        "old_password",
        "new_password",
        "client_secret",
        "secret",
        "token",
        "access",
        "refresh",
        "otp",
    }
)
#: Endings that make any field a secret (``reset_token``, ``api_secret``, ``admin_password``).
SECRET_SUFFIXES = ("_token", "_secret", "_password")


def is_secret(name: str) -> bool:
    name = name.lower()
    return name in SECRET_FIELDS or name.endswith(SECRET_SUFFIXES)


def redacted(value: Any) -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, scalars) with every secret field's value
    replaced by :data:`REDACTED`, at any depth."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and is_secret(key) and item not in (None, "")
            else redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def was_redacted(value: Any) -> bool:
    """Whether ``value`` lost a secret to :func:`redacted` (it cannot be sent again as it is)."""
    if isinstance(value, dict):
        return any(
            (isinstance(key, str) and is_secret(key) and item == REDACTED) or was_redacted(item)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return any(was_redacted(item) for item in value)
    return False
