"""API defaults shared by every service: errors, pagination, idempotency."""

from .errors import (
    ApplicationError,
    Conflict,
    IdempotencyKeyReused,
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_body,
    error_response,
)

__all__ = [
    "ApplicationError",
    "Conflict",
    "IdempotencyKeyReused",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "error_body",
    "error_response",
]
