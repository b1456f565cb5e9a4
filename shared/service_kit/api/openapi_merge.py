"""One OpenAPI document from the services' own: the platform as a client sees it through the
gateway (docs/api.md#the-api-reference).

- Paths: each service's paths that a gateway route sends to it, written as the client sends them
  (a route that renames its prefix upstream-side is undone); anything no route reaches is left out.
- Components: one copy of each that the services define alike (``Error``, ``bearerAuth``...); a
  name two services use for different things (``StatusEnum`` of orders and of payments) becomes
  ``<Service><Name>`` in each of them, their references rewritten. A component that refers to a
  renamed one is renamed too, since it now means something else.
- Security schemes are components like the others: the kit gives every service the same one.
- Operations also list the errors the gateway itself answers: 429 (its rate limits) and 503/504
  (an upstream that is down or slow).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .openapi import ERROR, METHODS, TAGS, each_object, error_response

#: Errors the gateway may answer for any operation it routes.
EDGE_ERRORS = ("429", "503", "504")


def merge(
    documents: Mapping[str, dict[str, Any]],
    routes: Iterable[tuple[str, str, str]],
    *,
    title: str,
    version: str,
    description: str = "",
) -> dict[str, Any]:
    """``documents``: service → its OpenAPI document; ``routes``: (client-side prefix, service,
    upstream-side prefix), as the gateway routes them. Services are taken in sorted order, so the
    result depends only on the inputs (its hash says whether anything changed)."""
    routes = list(routes)
    renames = _renames(documents)
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {"schemas": {"Error": ERROR}}
    operation_ids: set[str] = set()
    tags: set[str] = set()
    for service in sorted(documents):
        document = _rewrite(documents[service], service, renames.get(service, {}))
        for kind, named in document.get("components", {}).items():
            for name, value in named.items():
                components.setdefault(kind, {})[
                    renames.get(service, {}).get((kind, name), name)
                ] = value
        for path, item in document.get("paths", {}).items():
            public = _client_path(path, service, routes)
            if public is None or public in paths:
                continue
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                if operation.get("operationId") in operation_ids:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
                operation_ids.add(operation.get("operationId", ""))
                tags.update(operation.get("tags", []))
                responses = operation.setdefault("responses", {})
                for status in EDGE_ERRORS:
                    responses.setdefault(status, error_response(status))
            paths[public] = item
    versions = sorted({document.get("openapi", "3.0.3") for document in documents.values()})
    return {
        "openapi": versions[-1] if versions else "3.0.3",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/", "description": "The gateway serving this document."}],
        "tags": [
            {"name": tag, "description": TAGS.get(tag, f"The {tag} resource.")}
            for tag in sorted(tags)
        ],
        "paths": dict(sorted(paths.items())),
        "components": {kind: dict(sorted(named.items())) for kind, named in components.items()},
    }


def _client_path(path: str, service: str, routes: list[tuple[str, str, str]]) -> str | None:
    for prefix, upstream, upstream_prefix in routes:
        if upstream == service and path.startswith(upstream_prefix):
            return prefix + path[len(upstream_prefix) :]
    return None


def _renames(documents: Mapping[str, dict[str, Any]]) -> dict[str, dict[tuple[str, str], str]]:
    """service → {(component kind, name): new name} for the names that clash."""
    owners: dict[tuple[str, str], dict[str, str]] = {}  # (kind, name) → {service: its JSON}
    for service, document in documents.items():
        for kind, named in document.get("components", {}).items():
            for name, value in named.items():
                owners.setdefault((kind, name), {})[service] = json.dumps(value, sort_keys=True)
    clashing = {key for key, copies in owners.items() if len(set(copies.values())) > 1}
    renamed = {
        service: {key for key in clashing if service in owners[key]} for service in documents
    }
    # A component referring to a renamed one now differs between services as well.
    changed = True
    while changed:
        changed = False
        for key, copies in owners.items():
            if key in clashing or len(copies) < 2:
                continue
            if any(_refers(documents[s], key, renamed[s]) for s in copies):
                clashing.add(key)
                for s in copies:
                    renamed[s].add(key)
                changed = True
    return {
        service: {key: _prefix(service) + key[1] for key in keys}
        for service, keys in renamed.items()
    }


def _refers(document: dict[str, Any], key: tuple[str, str], renamed: set[tuple[str, str]]) -> bool:
    text = json.dumps(document["components"][key[0]][key[1]])
    return any(f'"#/components/{kind}/{name}"' in text for kind, name in renamed)


def _prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("_"))


def _rewrite(
    document: dict[str, Any], service: str, renames: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """A copy of ``document`` whose references follow ``renames``."""
    document = copy.deepcopy(document)
    if not renames:
        return document
    refs = {
        f"#/components/{kind}/{name}": f"#/components/{kind}/{new}"
        for (kind, name), new in renames.items()
    }

    for node in each_object(document):
        if isinstance(node.get("$ref"), str) and node["$ref"] in refs:
            node["$ref"] = refs[node["$ref"]]
    # Security requirements name their scheme rather than refer to it.
    schemes = {name: new for (kind, name), new in renames.items() if kind == "securitySchemes"}
    if schemes:
        for item in document.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "security" in operation:
                    operation["security"] = [
                        {schemes.get(k, k): v for k, v in requirement.items()}
                        for requirement in operation["security"]
                    ]
    return document
