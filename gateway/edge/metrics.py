"""The edge's Prometheus metrics (multiprocess-aware: the gateway's ``/metrics`` adds them up).

Labels are route names (``products``, ``admin-orders``), never raw paths. Each upstream's breaker
state is the kit's ``http_client_breaker_state`` gauge (0 closed, 1 half-open, 2 open).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from service_kit.exemplars import Histogram, of_span

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests the gateway routed to a service, by route and status answered",
    ["route", "status"],
)
DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Time from a routed request's arrival to its answer's headers (streamed bodies included)",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Calls to an upstream that got no (whole) answer, by kind: connect, connect_timeout, "
    "read_timeout, reset, circuit_open, body_aborted",
    ["upstream", "kind"],
)
REFUSED = Counter(
    "gateway_refused_total",
    "Requests the gateway refused itself, by route and reason "
    "(not_authenticated, token_not_valid, throttled, payload_too_large, bad_request)",
    ["route", "reason"],
)
THROTTLED = Counter("gateway_throttled_total", "Requests over a throttle budget", ["scope"])


class RouteMetrics:
    """One route's children, bound once: ``labels()`` on every request costs a lock and a lookup."""

    __slots__ = ("duration", "name", "requests")

    def __init__(self, name: str):
        self.name = name
        self.duration = DURATION.labels(name)
        self.requests: dict[int, Counter] = {}

    def observe(self, status: int, seconds: float, span: Any = None) -> None:
        """Counts the answer; its duration's exemplar is ``span``'s trace (a streamed body ends
        after the request's span is no longer the current one)."""
        counter = self.requests.get(status)
        if counter is None:
            counter = self.requests[status] = REQUESTS.labels(self.name, str(status))
        counter.inc()
        self.duration.observe(seconds, of_span(span))
