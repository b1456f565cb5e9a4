"""Cached catalogue reads, invalidated by every write.

Every cached answer is stored with the catalogue's *generation*: a random token in the shared
cache that each committed write replaces (:func:`catalogue_changed`). A read fetches the
generation and its entry in one round trip (``get_many``: one ``MGET`` on Redis) and serves the
entry only when it was rendered at the current generation. So a write is visible to every process
as soon as it returns, with no list of keys to delete.

Why it is never stale: the generation is replaced *after* the write commits. A reader that took
the old generation before that may store what it read under the old generation, which no later
read accepts; a reader that takes the new generation reads the database after the commit.

The entry holds the rendered JSON and its ETag (a hash of those bytes): a hit costs no query, no
serializer and no rendering. When the cache cannot be reached, reads go to the database and
writes log the failure (entries then live at most ``CATALOGUE_CACHE_TIMEOUT`` seconds).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils.http import parse_etags
from prometheus_client import Counter
from rest_framework.renderers import JSONRenderer

logger = logging.getLogger(__name__)

GENERATION_KEY = "catalogue:generation"
ENTRY_PREFIX = "catalogue:v1"

READS = Counter("catalogue_cache_reads_total", "Catalogue reads by cache outcome", ["outcome"])

_renderer = JSONRenderer()


def generation_bump() -> None:
    """Make every cached catalogue answer out of date (call after the change is committed)."""
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # the cache's client raises its own errors; the write itself stands
        logger.exception("catalogue.cache_bump_failed")


def catalogue_changed() -> None:
    """Say, inside a write's transaction, that the catalogue changed: the generation moves on
    when the transaction commits (at once outside a transaction), before the write returns."""
    transaction.on_commit(generation_bump)


def _current_generation(found: dict[str, Any]) -> str | None:
    generation = found.get(GENERATION_KEY)
    if generation is not None:
        return generation
    # First read ever, or the key was evicted: start a generation (whoever adds first wins).
    try:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        return cache.get(GENERATION_KEY)
    except Exception:
        logger.exception("catalogue.cache_unavailable")
        return None


def entry_key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{ENTRY_PREFIX}:{parts[0]}:{digest}"


@dataclass(frozen=True)
class Rendered:
    etag: str
    body: bytes


def rendered(data: Any) -> Rendered:
    body = _renderer.render(data)
    return Rendered(etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"', body=body)


def hit(key: str) -> Rendered | None:
    """The answer stored under ``key`` at the current generation, if there is one (else None:
    the caller takes the full path, which fills the cache)."""
    try:
        found = cache.get_many([GENERATION_KEY, key])
    except Exception:
        logger.exception("catalogue.cache_unavailable")
        return None
    entry, generation = found.get(key), found.get(GENERATION_KEY)
    if entry is not None and generation is not None and entry[0] == generation:
        READS.labels("hit").inc()
        return Rendered(etag=entry[1], body=entry[2])
    return None


def cached(key: str, render: Callable[[], Any]) -> Rendered:
    """The answer stored under ``key`` at the current generation, or ``render()``'s data,
    rendered and stored. ``render`` may raise (404, 400): errors are never stored."""
    try:
        found = cache.get_many([GENERATION_KEY, key])
    except Exception:
        logger.exception("catalogue.cache_unavailable")
        READS.labels("unavailable").inc()
        return rendered(render())
    entry = found.get(key)
    generation = found.get(GENERATION_KEY)
    if entry is not None and generation is not None and entry[0] == generation:
        READS.labels("hit").inc()
        return Rendered(etag=entry[1], body=entry[2])
    READS.labels("miss").inc()
    result = rendered(render())
    generation = _current_generation(found)
    if generation is not None:
        try:
            cache.set(
                key,
                (generation, result.etag, result.body),
                timeout=settings.CATALOGUE_CACHE_TIMEOUT,
            )
        except Exception:
            logger.exception("catalogue.cache_unavailable")
    return result


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """RFC 9110's weak comparison for ``If-None-Match`` (``W/`` prefixes ignored, ``*`` any)."""
    if not if_none_match:
        return False
    tags: Iterable[str] = parse_etags(if_none_match)
    if "*" in tags:
        return True
    bare = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == bare for tag in tags)


def json_response(request, result: Rendered, *, vary_on_caller: bool = True) -> HttpResponse:
    """200 with the body, or 304 when the caller already has it (``If-None-Match``)."""
    if etag_matches(result.etag, request.headers.get("If-None-Match")):
        response = HttpResponse(status=304)
        del response["Content-Type"]  # no body, no type
    else:
        response = HttpResponse(result.body, content_type="application/json")
    response["ETag"] = result.etag
    # Shared caches may keep it but must ask again (a write is visible at once); the answer
    # depends on who asks (staff also see inactive products).
    response["Cache-Control"] = "no-cache"
    if vary_on_caller:
        response["Vary"] = "Authorization"
    return response
