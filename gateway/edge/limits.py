"""Throttling and the revocation list in one trip to the shared cache.

Budgets are fixed windows per scope and identity (``GATEWAY_THROTTLES``, e.g. ``600/min``):

* ``user``: a verified token's ``user_id`` (or a service identity's ``client_id``), on protected
  routes;
* ``anon``: the client address, on public routes (catalogue reads, sign-in, JWKS, …);
* ``auth``: the client address again, on sign-in, registration and password reset (both budgets
  count there);
* ``admin``: the client address, on the admins' pages (their static files are not counted).

With Redis (the real profile) one Lua script, run with ``EVALSHA``, increments the request's
counters (setting their expiry when new) and reads the revocation keys that
:func:`service_kit.auth.verify_token` asks for: one round trip per request for both. The keys are
made by the cache's own ``make_key`` and the values decoded as django-redis stores them, so the
gateway reads exactly what ``revoke_jti``/``revoke_user`` wrote through Django's cache.

A protected request's ``user`` counter is incremented in that trip, before the token's signature
is checked (the trip happens inside ``verify``). A refused token must not spend the budget of the
user it names, so its increment is taken back (a second trip, on refusals only): a forger cannot
throttle someone else, and refusals are not counted at all.

Without Redis (the embedded profile's file cache) the same happens through the cache API, in more
round trips and with approximate counters. If the cache fails, requests are let through (logged
and counted): the services behind the gateway check tokens and revocations again themselves.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from prometheus_client import Counter
from redis.exceptions import NoScriptError

logger = logging.getLogger(__name__)

LIMITS_ERRORS = Counter(
    "gateway_limits_errors_total",
    "Trips to the shared cache for throttling and revocation that failed (requests let through)",
)

#: How long the gateway stops asking a cache that has just failed (each try would wait for the
#: socket timeout).
CACHE_BACKOFF = 1.0

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_PERIODS.update({"h": 3600, "hour": 3600, "d": 86400, "day": 86400})
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


@dataclass(frozen=True, slots=True)
class Budget:
    scope: str
    limit: int
    period: int  # seconds


def parse_rate(scope: str, rate: str | None) -> Budget | None:
    """``"600/min"``, ``"10/30s"``, ``"5/hour"`` → a budget; ``None``/``"none"``/``""`` → off."""
    if rate is None or str(rate).strip().lower() in ("", "none", "off"):
        return None
    match = _RATE.match(str(rate).lower())
    if not match or match.group(3) not in _PERIODS:
        raise ValueError(f"throttle rate {rate!r} for {scope!r} is not like '600/min'")
    count, multiple, unit = match.groups()
    return Budget(scope, int(count), int(multiple or 1) * _PERIODS[unit])


def parse_throttles(throttles: dict[str, str | None]) -> dict[str, Budget]:
    budgets = {}
    for scope, rate in throttles.items():
        budget = parse_rate(scope, rate)
        if budget is not None:
            budgets[scope] = budget
    return budgets


@dataclass(frozen=True, slots=True)
class Trip:
    """What one request charged and read."""

    charged: list[tuple[Budget, str]]  # (budget, counter key before the cache prefixes it)
    counts: list[int]
    shared: dict[str, Any]  # revocation values by their (unprefixed) key
    now: float

    def over(self) -> tuple[Budget, int] | None:
        """The first budget this request went over, and the seconds until its window ends."""
        for (budget, _), count in zip(self.charged, self.counts, strict=False):
            if count > budget.limit:
                return budget, max(1, int(budget.period - self.now % budget.period + 0.999))
        return None


EMPTY = Trip([], [], {}, 0.0)

#: KEYS: the counters to increment (their expiries in ARGV[2…]), then the keys to read.
#: Returns the counters' new values, then the read values (nil when absent).
_SCRIPT = """
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i + 1]) end
  out[i] = count
end
for i = n + 1, #KEYS do
  out[i] = redis.call('GET', KEYS[i])
end
return out
"""


class Limits:
    """The process's throttle and revocation reader (Redis script, or the cache API)."""

    def __init__(self, throttles: dict[str, str | None], alias: str = "default"):
        self.budgets = parse_throttles(throttles)
        self.cache = caches[alias]
        self.make_key = self.cache.make_key
        self._skip_until = 0.0
        self.redis: Any = None  # django_redis's client (the library ships no types)
        if type(self.cache).__module__.startswith("django_redis"):
            from django_redis import get_redis_connection

            self.redis = get_redis_connection(alias)
            self.script = self.redis.register_script(_SCRIPT)
            self.decode = self.cache.client.decode  # type: ignore[attr-defined]  # django_redis's cache

    def budget(self, scope: str) -> Budget | None:
        return self.budgets.get(scope)

    def charge(self, charges: list[tuple[Budget, str]], read: Sequence[str] = ()) -> Trip:
        """Count one request against ``(budget, identity)`` pairs and read the ``read`` keys."""
        now = time.time()
        if now < self._skip_until:
            return EMPTY
        charged = [
            (budget, f"gw:throttle:{budget.scope}:{ident}:{int(now // budget.period)}")
            for budget, ident in charges
        ]
        try:
            if self.redis is not None:
                return self._charge_redis(charged, read, now)
            return self._charge_cache(charged, read, now)
        except Exception:  # noqa: BLE001 - a cache outage lets requests through (module doc)
            self._failed("charge")
            return EMPTY

    def refund(self, trip: Trip) -> None:
        """Take back what ``trip`` counted (a request whose token was refused)."""
        if not trip.charged:
            return
        try:
            if self.redis is not None:
                with self.redis.pipeline(transaction=False) as pipe:
                    for _, key in trip.charged:
                        pipe.decr(self.make_key(key))
                    pipe.execute()
            else:
                for _, key in trip.charged:
                    self.cache.decr(key)
        except Exception:  # noqa: BLE001 - as in charge()
            self._failed("refund")

    # -- internals --------------------------------------------------------------------------
    def _charge_redis(self, charged, read, now: float) -> Trip:
        make_key = self.make_key
        keys = [make_key(key) for _, key in charged]
        keys.extend(make_key(key) for key in read)
        args = [len(charged)]
        args.extend(budget.period + 1 for budget, _ in charged)
        try:
            values = self.redis.evalsha(self.script.sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted (or flushed its scripts): the Script loads it
            values = self.script(keys=keys, args=args)
        n = len(charged)
        shared = {}
        for key, value in zip(read, values[n:], strict=True):
            if value is not None:
                shared[key] = self.decode(value)
        return Trip(charged, values[:n], shared, now)

    def _charge_cache(self, charged, read, now: float) -> Trip:
        cache, counts = self.cache, []
        for budget, key in charged:
            cache.add(key, 0, budget.period + 1)
            try:
                counts.append(cache.incr(key))
            except ValueError:  # expired between add and incr
                cache.set(key, 1, budget.period + 1)
                counts.append(1)
        shared = cache.get_many(read) if read else {}
        return Trip(charged, counts, shared, now)

    def _failed(self, operation: str) -> None:
        self._skip_until = time.time() + CACHE_BACKOFF
        LIMITS_ERRORS.inc()
        logger.warning("gateway.limits_unavailable", extra={"operation": operation}, exc_info=True)
