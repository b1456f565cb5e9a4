"""Service-to-service HTTP: :class:`ServiceClient` and its per-upstream circuit breaker."""

from .breaker import BREAKER_STATE, CircuitBreaker, CircuitOpen, breaker_for
from .client import IDEMPOTENT_METHODS, ServiceClient, UpstreamResponse

__all__ = [
    "BREAKER_STATE",
    "IDEMPOTENT_METHODS",
    "CircuitBreaker",
    "CircuitOpen",
    "ServiceClient",
    "UpstreamResponse",
    "breaker_for",
]
