"""Service-to-service HTTP: :class:`ServiceClient` and its per-upstream circuit breaker."""

from .breaker import CircuitBreaker, CircuitOpen, breaker_for
from .client import IDEMPOTENT_METHODS, ServiceClient, UpstreamResponse

__all__ = [
    "IDEMPOTENT_METHODS",
    "CircuitBreaker",
    "CircuitOpen",
    "ServiceClient",
    "UpstreamResponse",
    "breaker_for",
]
