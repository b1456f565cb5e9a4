"""API defaults shared by every service: errors, pagination, idempotency, OpenAPI documents.

The OpenAPI names load on first use (they import drf-spectacular, which reads the settings).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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
from .fields import UUIDListField

if TYPE_CHECKING:
    from .openapi import AutoSchema
    from .openapi_merge import merge as merge_openapi

_LAZY = {"AutoSchema": ".openapi", "merge_openapi": ".openapi_merge"}

__all__ = [
    "ApplicationError",
    "AutoSchema",
    "Conflict",
    "IdempotencyKeyReused",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "UUIDListField",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "error_body",
    "error_response",
    "merge_openapi",
]


def __getattr__(name: str) -> Any:
    if name == "merge_openapi":
        return import_module(".openapi_merge", __name__).merge
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
