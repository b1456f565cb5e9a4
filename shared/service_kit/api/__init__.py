"""API defaults shared by every service: errors, pagination, idempotency."""

from .errors import (
    ApplicationError,
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
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
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "error_body",
    "error_response",
]
