"""The platform's one OpenAPI document (docs/api.md#the-api-reference).

Built by ``service_kit.api.merge_openapi`` from every upstream's own document and the
gateway's routes:

- served at ``/api/schema/`` from the documents the gateway fetches from the services (the
  per-service cache of :mod:`edge.views`, ``API_SCHEMA_CACHE_SECONDS``); merged again only when
  one of them changed (their hashes), and answered with an ``ETag`` (``If-None-Match`` → 304);
- written offline by ``manage.py openapi`` (``make openapi``) from each service's own
  ``manage.py spectacular``, for release artifacts and the linter.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from service_kit.api import merge_openapi
from service_kit.conf import REPO_ROOT, platform_version

from .routes import API, default_routes

TITLE = "Commerce platform API"
DESCRIPTION = (
    "Every service's API as a client reaches it through the gateway: one document to read and "
    "to generate a client from. Sign in with `POST /api/v1/auth/token/` and send the access "
    "token as `Authorization: Bearer <token>`. Errors: `{error: {code, message, details}}`."
)


def docs_services() -> list[str]:
    """The upstreams whose documents the docs and the merged document cover
    (``API_DOCS_SERVICES``; unset: every upstream but the gateway)."""
    names = getattr(settings, "API_DOCS_SERVICES", None)
    if names is None:
        names = [name for name in settings.UPSTREAMS if name != settings.SERVICE_NAME]
    return list(names)


def gateway_routes() -> list[tuple[str, str, str]]:
    """(client-side prefix, upstream, upstream-side prefix) of every API route."""
    return [
        (route.prefix, route.upstream, route.upstream_prefix or route.prefix)
        for route in default_routes()
        if route.kind == API and not route.local
    ]


def build(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merge_openapi(
        documents,
        gateway_routes(),
        title=TITLE,
        version=platform_version(),
        description=DESCRIPTION,
    )


class MergedCache:
    """The merged document, as bytes and ETag, rebuilt when the services' documents change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, str], ...] | None = None
        self._value: tuple[bytes, str] = (b"", "")

    def get(self, raw: dict[str, bytes], missing: list[str]) -> tuple[bytes, str]:
        key = tuple(sorted((name, hashlib.sha256(body).hexdigest()) for name, body in raw.items()))
        with self._lock:
            if key != self._key:
                documents = {name: json.loads(body) for name, body in raw.items()}
                document = build(documents)
                if missing:
                    document["info"]["x-missing-services"] = sorted(missing)
                content = json.dumps(document, indent=2).encode()
                etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
                self._key, self._value = key, (content, etag)
            return self._value


merged = MergedCache()


def offline_documents(services: list[str]) -> dict[str, dict[str, Any]]:
    """Each service's document from its own ``manage.py spectacular``: no server, no database."""
    env = dict(os.environ)
    # The schema comes from the code, not a running platform; each service has its own settings.
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    documents = {}
    with tempfile.TemporaryDirectory(prefix="openapi-") as folder:
        for service in services:
            out = Path(folder) / f"{service}.json"
            result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
                [
                    sys.executable,
                    "manage.py",
                    "spectacular",
                    "--format",
                    "openapi-json",
                    "--file",
                    str(out),
                ],
                cwd=REPO_ROOT / f"{service}_service",
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"{service}: manage.py spectacular failed: {result.stderr[-3000:]}"
                )
            documents[service] = json.loads(out.read_text())
    return documents
