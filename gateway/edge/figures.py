"""The staff front page's live figures and recent activity, read from the services' APIs.

Each service answers ``GET /api/v1/console/figures/`` and ``/api/v1/console/activity/``
(``service_kit.console.api``) to the gateway's service token (client credentials from
``SERVICE_CLIENT_ID`` / ``SERVICE_CLIENT_SECRET``, scope ``console:read``). Only the services whose
admins the person's roles open are asked, all at once, each within ``CONSOLE_TIMEOUT``; an answer
is kept ``CONSOLE_CACHE_SECONDS`` for everyone. A service that does not answer in time, refuses,
or answers nonsense is shown as unavailable: the page itself never fails for it.

What a service answers is not trusted further than needed: counts must be numbers, and links must
lead into that service's own admin (a compromised service cannot point staff elsewhere).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from service_kit.auth import service_token
from service_kit.console import AdminEntry, admin_href
from service_kit.http import ServiceClient

logger = logging.getLogger(__name__)

FIGURES_PATH = "/api/v1/console/figures/"
ACTIVITY_PATH = "/api/v1/console/activity/"
#: How many recent actions the front page lists, across services.
ACTIVITY_ROWS = 30

#: One pool for the process: a service still answering after the page gave up on it does not
#: hold the page (its thread finishes in the background, bounded by the client's timeouts).
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console")


@dataclass(frozen=True)
class Shown:
    """A figure as the front page shows it."""

    label: str
    count: int
    url: str


@dataclass
class ServiceFigures:
    entry: AdminEntry
    figures: list[Shown] = field(default_factory=list)
    available: bool = False


@dataclass(frozen=True)
class Action:
    at: datetime
    service: str
    actor: str
    action: str
    target: str
    url: str
    reason: str


def _fetch(service: str, path: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """One service's answer, or None when it had none to give."""
    connect, read = settings.CONSOLE_TIMEOUT
    client = ServiceClient(
        service,
        token_provider=service_token,
        connect_timeout=connect,
        read_timeout=read,
        retries=0,
    )
    try:
        answer = client.get(path, params=dict(params))
        body = answer.json() if answer.status == 200 else None
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the page goes on without it
        logger.warning("console.unavailable", extra={"upstream": service, "error": str(exc)})
        return None
    if not isinstance(body, dict):
        logger.warning("console.refused", extra={"upstream": service, "status": answer.status})
        return None
    return body


def _gather(
    services: Iterable[str], path: str, params: Mapping[str, Any]
) -> dict[str, dict[str, Any] | None]:
    """Each service's answer: from the cache, else asked in parallel (answers are cached)."""

    def key(service: str) -> str:
        asked = (settings.UPSTREAMS.get(service), path, sorted(params.items()))
        return f"console:{service}:{hashlib.sha256(repr(asked).encode()).hexdigest()[:24]}"

    keys = {service: key(service) for service in services}
    found: dict[str, Any] = cache.get_many(list(keys.values())) if keys else {}
    answers = {service: found.get(key) for service, key in keys.items()}
    missing = [service for service, answer in answers.items() if answer is None]
    futures: dict[str, Future] = {
        service: _pool.submit(_fetch, service, path, params) for service in missing
    }
    connect, read = settings.CONSOLE_TIMEOUT
    wait_all(futures.values(), timeout=connect + read + 0.5)
    fresh = {}
    for service, future in futures.items():
        answers[service] = future.result() if future.done() else None
        if answers[service] is not None:
            fresh[keys[service]] = answers[service]
    if fresh and settings.CONSOLE_CACHE_SECONDS > 0:
        cache.set_many(fresh, timeout=settings.CONSOLE_CACHE_SECONDS)
    return answers


def _own_link(service: str, url: Any) -> str:
    """``url`` when it leads into ``service``'s own admin, else that admin's index."""
    home = admin_href(service)
    return url if isinstance(url, str) and url.startswith(home) and "//" not in url else home


def _figures(service: str, body: Mapping[str, Any]) -> list[Shown]:
    out = []
    for row in body.get("figures") or []:
        if not isinstance(row, dict):
            continue
        count, label = row.get("count"), row.get("label")
        if isinstance(count, int) and not isinstance(count, bool) and isinstance(label, str):
            out.append(Shown(label[:100], count, _own_link(service, row.get("url"))))
    return out


def front_page_figures(entries: Iterable[AdminEntry]) -> list[ServiceFigures]:
    """The figures of each of these admins (the gateway's own has none)."""
    shown = [ServiceFigures(entry) for entry in entries if entry.service != "gateway"]
    answers = _gather([item.entry.service for item in shown], FIGURES_PATH, {})
    for item in shown:
        body = answers.get(item.entry.service)
        if body is not None:
            item.figures, item.available = _figures(item.entry.service, body), True
    return shown


def _when(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when if when is not None and when.tzinfo is not None else None


def recent_activity(
    entries: Iterable[AdminEntry], actor: str = ""
) -> tuple[list[Action], list[AdminEntry]]:
    """The latest staff actions across these admins' services, newest first (``actor``: one
    person's); and the admins whose services did not answer."""
    entries = [entry for entry in entries if entry.service != "gateway"]
    params = {"limit": ACTIVITY_ROWS, **({"actor": actor} if actor else {})}
    answers = _gather([entry.service for entry in entries], ACTIVITY_PATH, params)
    actions, unavailable = [], []
    for entry in entries:
        body = answers.get(entry.service)
        if body is None:
            unavailable.append(entry)
            continue
        for row in body.get("results") or []:
            when = _when(row.get("at")) if isinstance(row, dict) else None
            if when is None:
                continue
            actions.append(
                Action(
                    at=when,
                    service=entry.title,
                    actor=str(row.get("actor", ""))[:254],
                    action=str(row.get("action", ""))[:64],
                    target=str(row.get("target", ""))[:200],
                    url=_own_link(entry.service, row.get("target_url")),
                    reason=str(row.get("reason", ""))[:500],
                )
            )
    actions.sort(key=lambda action: action.at, reverse=True)
    return actions[:ACTIVITY_ROWS], unavailable


def front_page_context(request: Any, admins: list[AdminEntry]) -> dict[str, Any]:
    """What the front page's figures and activity templates show (``?actor=`` filters the
    activity to one person)."""
    actor = request.GET.get("actor", "").strip()[:254]
    actions, silent = recent_activity(admins, actor)
    return {
        "service_figures": front_page_figures(admins),
        "activity": actions,
        "activity_actor": actor,
        "activity_unavailable": silent,
    }
