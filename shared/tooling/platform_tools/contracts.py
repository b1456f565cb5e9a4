"""Contracts compared: consumers' declarations against producers' message schemas
(consumer-driven contracts), and a release's message schemas and OpenAPI documents against the
previous release's (:mod:`platform_tools.release` finds them in git).

A field is named by its path: ``lines[].sku`` is the ``sku`` of each item of ``lines``. Only what
can break a reader counts: a removed path, operation or field, a changed type, a newly required
field. Added documentation (summaries, tags, descriptions, examples, error responses) never does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service_kit.messaging.schemas import Registry, load_contracts

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@dataclass(frozen=True)
class Field:
    types: frozenset[str]  # empty: any
    required: bool


def _types(schema: dict[str, Any]) -> frozenset[str]:
    kind = schema.get("type")
    if kind is None:
        return frozenset()
    return frozenset([kind] if isinstance(kind, str) else kind) - {"null"}


def fields(
    schema: dict[str, Any], resolve: Any = None, *, skip: str = "", prefix: str = ""
) -> dict[str, Field]:
    """Every field of an object schema by its path. ``resolve`` follows a ``$ref`` (OpenAPI);
    ``skip`` leaves out the properties so marked (``readOnly`` in a request)."""
    schema = _resolved(schema, resolve)
    found: dict[str, Field] = {}
    if schema.get("type") == "array" or "items" in schema:
        return fields(schema.get("items", {}), resolve, skip=skip, prefix=f"{prefix}[]")
    parts = [_resolved(s, resolve) for s in schema.get("allOf", [])] + [schema]
    for part in parts:
        required = set(part.get("required", ()))
        for name, sub in part.get("properties", {}).items():
            sub = _resolved(sub, resolve)
            if skip and sub.get(skip):
                continue
            path = f"{prefix}.{name}" if prefix else name
            found[path] = Field(_types(sub), name in required)
            found.update(fields(sub, resolve, skip=skip, prefix=path))
    return found


def _resolved(schema: dict[str, Any], resolve: Any) -> dict[str, Any]:
    for _ in range(20):
        if "$ref" not in schema or resolve is None:
            return schema
        schema = resolve(schema["$ref"])
    return schema


def field_changes(
    where: str, old: dict[str, Field], new: dict[str, Field], *, removed: bool, required: bool
) -> list[str]:
    """What breaks a reader (``removed``: a field gone; always: a changed type) or a writer
    (``required``: a field newly required)."""
    problems = []
    for path, before in old.items():
        after = new.get(path)
        if after is None:
            if removed:
                problems.append(f"{where}: field '{path}' removed")
        elif before.types and after.types != before.types:
            problems.append(
                f"{where}: field '{path}' changed type "
                f"{'/'.join(sorted(before.types))} → {'/'.join(sorted(after.types)) or 'any'}"
            )
    if required:
        for path, after in new.items():
            if after.required and not (path in old and old[path].required):
                problems.append(f"{where}: field '{path}' newly required")
    return problems


# -- messages -------------------------------------------------------------------------------------


def message_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One major of a message type, the last release's schema against this one's."""
    return field_changes(where, fields(old), fields(new), removed=True, required=True)


def consumer_problems(root: Path) -> list[str]:
    """Every consumer's declaration (``<service>/contracts/reads.json``) against the producers'
    contracts under ``root``: each field a consumer reads is in the major it reads, same type."""
    registry = Registry()
    load_contracts(registry, root)
    problems = []
    for declaration in sorted(root.glob("*/contracts/reads.json")):
        consumer = declaration.parents[1].name
        for name, entry in json.loads(declaration.read_text()).items():
            message_type = registry.get(name)
            if message_type is None:
                problems.append(f"{consumer} reads {name}, which no service's contracts define")
                continue
            major = int(entry["major"])
            contract = message_type.contracts.get(major)
            where = f"{consumer} reads {name} v{major}"
            if contract is None:
                known = ", ".join(f"v{m}" for m in sorted(message_type.contracts))
                problems.append(f"{where}, which {message_type.owner} no longer has ({known})")
                continue
            offered = fields(contract.schema)
            for path, kind in entry["fields"].items():
                field = offered.get(path)
                if field is None:
                    problems.append(f"{where}: field '{path}' is not in {message_type.owner}'s")
                elif field.types and kind not in field.types:
                    problems.append(
                        f"{where}: field '{path}' is {'/'.join(sorted(field.types))} in "
                        f"{message_type.owner}'s, read as {kind}"
                    )
    return problems


# -- OpenAPI ------------------------------------------------------------------------------------


def openapi_changes(service: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """A service's OpenAPI document, the last release's against this one's."""
    problems: list[str] = []
    for path, old_item in old.get("paths", {}).items():
        new_item = new.get("paths", {}).get(path)
        if new_item is None:
            problems.append(f"{service}: path {path} removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            where = f"{service}: {method.upper()} {path}"
            if method not in new_item:
                problems.append(f"{where}: operation removed")
                continue
            problems += _operation_changes(where, old, old_item[method], new, new_item[method])
    return problems


def _resolver(document: dict[str, Any]) -> Any:
    def resolve(ref: str) -> dict[str, Any]:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    return resolve


def _json_schema(container: dict[str, Any] | None) -> dict[str, Any] | None:
    content = (container or {}).get("content", {})
    for media, body in content.items():
        if "json" in media:
            return body.get("schema", {})
    return None


def _operation_changes(
    where: str,
    old_doc: dict[str, Any],
    old: dict[str, Any],
    new_doc: dict[str, Any],
    new: dict[str, Any],
) -> list[str]:
    old_resolve, new_resolve = _resolver(old_doc), _resolver(new_doc)
    problems = []
    for status, response in old.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue  # errors are documentation a client handles generally
        new_response = new.get("responses", {}).get(status)
        if new_response is None:
            problems.append(f"{where}: response {status} removed")
            continue
        old_schema = _json_schema(_resolved(response, old_resolve))
        new_schema = _json_schema(_resolved(new_response, new_resolve))
        if old_schema is None:
            continue
        problems += field_changes(
            f"{where} {status}",
            fields(old_schema, old_resolve, skip="writeOnly"),
            fields(new_schema or {}, new_resolve, skip="writeOnly"),
            removed=True,
            required=False,
        )
    old_body = _json_schema(_resolved(old.get("requestBody", {}), old_resolve))
    new_body = _json_schema(_resolved(new.get("requestBody", {}), new_resolve))
    if new_body is not None:
        problems += field_changes(
            f"{where} request",
            fields(old_body or {}, old_resolve, skip="readOnly"),
            fields(new_body, new_resolve, skip="readOnly"),
            removed=False,
            required=True,
        )
    old_required = {p.get("name") for p in old.get("parameters", []) if p.get("required")}
    for parameter in new.get("parameters", []):
        if parameter.get("required") and parameter.get("name") not in old_required:
            problems.append(f"{where}: parameter '{parameter.get('name')}' newly required")
    return problems
