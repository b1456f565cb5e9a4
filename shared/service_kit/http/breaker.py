"""A circuit breaker per upstream whose state every process shares through the default cache.

Closed: calls go through; ``failures`` consecutive failures open it. Open: calls fail at once for
``reset_timeout`` seconds. Half-open: one trial call, across every process, is let through;
its success closes the breaker, its failure opens it again.

The cache holds three keys per upstream: when it opened (absent while closed), the consecutive
failure count, and the half-open trial's lock. Each process keeps a snapshot of the first two for
``local_ttl`` seconds, so a healthy call reads nothing and writes nothing (pybreaker's
``CircuitBreaker.call`` holds its lock for the whole call, so threads reach the upstream one at a
time, and writes every success: docs/tooling.md#runtime). Counts are approximate across processes
by design: a breaker needs the trend, not an exact tally.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"

BREAKER_TRANSITIONS = Counter(
    "http_client_breaker_transitions_total",
    "Circuit breaker state changes made by this process, by upstream and new state",
    ["upstream", "state"],
)
BREAKER_STATE = Gauge(
    "http_client_breaker_state",
    "Circuit breaker state as this process last saw it (0 closed, 1 half-open, 2 open)",
    ["upstream"],
    multiprocess_mode="livemax",  # one process seeing it open is what an alert needs
)
_STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

#: How long an opened breaker's mark lives: long enough to outlast any outage worth a breaker,
#: short enough that a retired upstream leaves no key behind for ever.
OPEN_MARK_TTL = 24 * 3600


class CircuitOpen(Exception):
    """The breaker rejects the call; ``retry_after`` is how long until a trial may go through."""

    def __init__(self, upstream: str, retry_after: float):
        super().__init__(f"circuit open for {upstream}")
        self.upstream = upstream
        self.retry_after = max(retry_after, 0.0)


@dataclass(frozen=True)
class _Snapshot:
    opened_at: float | None  # wall-clock time (shared by processes), None while closed
    failures: int
    read_at: float  # monotonic time of the cache read


class CircuitBreaker:
    def __init__(
        self,
        upstream: str,
        *,
        failures: int,
        reset_timeout: float,
        trial_timeout: float = 30.0,
        local_ttl: float = 0.5,
    ):
        self.upstream = upstream
        self.failures = failures
        self.reset_timeout = reset_timeout
        # A trial whose process died must not block the next one for ever: its lock expires.
        self.trial_timeout = trial_timeout
        self.local_ttl = local_ttl
        prefix = f"http.breaker:{upstream}"
        self._opened_key = f"{prefix}:opened_at"
        self._failures_key = f"{prefix}:failures"
        self._trial_key = f"{prefix}:trial"
        self._snapshot = _Snapshot(None, 0, -float("inf"))
        self._no_trial_until = -float("inf")

    # -- reading ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (a trial may go, or is under way)."""
        return self._state(self._current().opened_at)[0]

    def allow(self) -> bool:
        """Let a call through, or raise :class:`CircuitOpen`; True when the call is the trial."""
        state, retry_after = self._state(self._current().opened_at)
        if state == CLOSED:
            return False
        if state == OPEN:
            raise CircuitOpen(self.upstream, retry_after)
        # Half-open: the one process that adds the lock makes the trial; the others wait.
        if time.monotonic() >= self._no_trial_until and self._cache(
            "add", self._trial_key, 1, timeout=self.trial_timeout, default=False
        ):
            # Our snapshot may be stale: another process's trial may have closed or reopened it.
            state, retry_after = self._state(self._refresh().opened_at)
            if state == HALF_OPEN:
                logger.info("http.breaker_half_open", extra={"upstream": self.upstream})
                self._transition(HALF_OPEN)
                return True
            self._cache("delete", self._trial_key)
            if state == CLOSED:
                return False
            raise CircuitOpen(self.upstream, retry_after)
        self._no_trial_until = time.monotonic() + self.local_ttl
        raise CircuitOpen(self.upstream, self.local_ttl)

    # -- recording --------------------------------------------------------------------------
    def record_success(self, *, trial: bool = False) -> None:
        snapshot = self._snapshot
        if trial:
            self._cache("delete_many", [self._opened_key, self._failures_key, self._trial_key])
            logger.warning("http.breaker_closed", extra={"upstream": self.upstream})
            self._transition(CLOSED)
        elif snapshot.opened_at is None and snapshot.failures:
            # Consecutive failures end here; only written when there were some to forget.
            self._cache("delete", self._failures_key)
        else:
            return  # the hot path: nothing to write
        self._snapshot = _Snapshot(None, 0, time.monotonic())

    def record_failure(self, *, trial: bool = False) -> None:
        now = time.time()
        if trial:
            self._cache("set", self._opened_key, now, timeout=OPEN_MARK_TTL)
            self._cache("delete", self._trial_key)
            logger.warning("http.breaker_reopened", extra={"upstream": self.upstream})
            self._transition(OPEN)
        else:
            count = self._increment_failures()
            # ``add``: of the processes crossing the threshold together, one opens (and logs).
            if count >= self.failures and self._cache(
                "add", self._opened_key, now, timeout=OPEN_MARK_TTL, default=False
            ):
                logger.warning(
                    "http.breaker_opened",
                    extra={"upstream": self.upstream, "failures": count},
                )
                self._transition(OPEN)
        self._refresh()

    def reset(self) -> None:
        """Close the breaker for every process (an operator's or a test's tool)."""
        self._cache("delete_many", [self._opened_key, self._failures_key, self._trial_key])
        self._snapshot = _Snapshot(None, 0, time.monotonic())
        BREAKER_STATE.labels(self.upstream).set(_STATE_VALUES[CLOSED])

    # -- internals --------------------------------------------------------------------------
    def _state(self, opened_at: float | None) -> tuple[str, float]:
        """The state for an opening time, and the seconds left until a trial may go."""
        if opened_at is None:
            return CLOSED, 0.0
        remaining = opened_at + self.reset_timeout - time.time()
        return (OPEN, remaining) if remaining > 0 else (HALF_OPEN, 0.0)

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if time.monotonic() - snapshot.read_at < self.local_ttl:
            return snapshot
        return self._refresh()

    def _refresh(self) -> _Snapshot:
        values = self._cache("get_many", [self._opened_key, self._failures_key], default={})
        snapshot = _Snapshot(
            values.get(self._opened_key), values.get(self._failures_key) or 0, time.monotonic()
        )
        if (snapshot.opened_at is None) != (self._snapshot.opened_at is None):
            BREAKER_STATE.labels(self.upstream).set(
                _STATE_VALUES[CLOSED if snapshot.opened_at is None else OPEN]
            )
        self._snapshot = snapshot
        return snapshot

    def _increment_failures(self) -> int:
        if self._cache("add", self._failures_key, 1, timeout=OPEN_MARK_TTL, default=False):
            return 1
        try:
            return cache.incr(self._failures_key)
        except ValueError:  # expired between add and incr
            self._cache("set", self._failures_key, 1, timeout=OPEN_MARK_TTL)
            return 1
        except Exception:  # noqa: BLE001 - see _cache
            logger.warning("http.breaker_cache_error", extra={"upstream": self.upstream})
            return 1

    def _cache(self, operation: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        # The cache being down must not take every upstream call down with it: the breaker then
        # stays closed (fails open) and the calls' own timeouts bound the damage.
        try:
            return getattr(cache, operation)(*args, **kwargs)
        except Exception:
            logger.warning(
                "http.breaker_cache_error",
                extra={"upstream": self.upstream, "operation": operation},
                exc_info=True,
            )
            return default

    def _transition(self, state: str) -> None:
        BREAKER_TRANSITIONS.labels(self.upstream, state).inc()
        BREAKER_STATE.labels(self.upstream).set(_STATE_VALUES[state])


_breakers: dict[tuple[str, int, float], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(upstream: str, *, failures: int, reset_timeout: float) -> CircuitBreaker:
    """This process's breaker for ``upstream`` (one per configuration, so one local snapshot
    serves every client of it; clients with other thresholds still share the cached state)."""
    key = (upstream, failures, reset_timeout)
    breaker = _breakers.get(key)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(
                key, CircuitBreaker(upstream, failures=failures, reset_timeout=reset_timeout)
            )
    return breaker
