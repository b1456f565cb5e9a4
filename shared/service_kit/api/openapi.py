"""Every service's OpenAPI document, described the same way (docs/api.md#the-api-reference).

drf-spectacular documents what each view answers when it succeeds. The kit's :class:`AutoSchema`
(``DEFAULT_SCHEMA_CLASS`` of every service) adds what a client generator needs on top:

- a summary on every operation (``extend_schema(summary=...)`` wins; else one made from the
  method and the path, "List orders", "Get order", "Cancel order");
- the errors the operation can really answer, each with the one error body and an example:
  400 when it takes a body or query filters, 401 and 403 when it needs a token, 404 when its path
  names an object, 409 and 422 when it takes an ``Idempotency-Key``; the rest stay ``default``;
- path parameters that hold public ids (``id`` or ``*_id``) typed as UUIDs (docs/api.md).

Tags are the resource (``SCHEMA_PATH_PREFIX`` cuts ``/api/v1``: ``orders``, ``payments``...),
and :func:`document_errors` (a ``POSTPROCESSING_HOOKS`` entry) declares them, the ``Error``
component and the servers. The gateway merges the services' documents into one
(:mod:`service_kit.api.openapi_merge`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from drf_spectacular import openapi

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people; may change."},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

#: status → (what it means, the error code of its example, the example's message)
ERRORS: dict[str, tuple[str, str, str]] = {
    "400": ("The request is not valid.", "validation_error", "Invalid input."),
    "401": (
        "No valid access token.",
        "not_authenticated",
        "Authentication credentials were not provided.",
    ),
    "403": (
        "The token may not do this.",
        "permission_denied",
        "You do not have permission to perform this action.",
    ),
    "404": ("No such object (or not the caller's).", "not_found", "Not found."),
    "409": ("It conflicts with the object's state.", "conflict", "Conflict."),
    "422": (
        "The Idempotency-Key was used with another body.",
        "idempotency_key_reused",
        "This Idempotency-Key was used with another request body.",
    ),
    "429": ("Too many requests: retry after Retry-After.", "throttled", "Request was throttled."),
    "503": (
        "A service it depends on is unavailable.",
        "upstream_unavailable",
        "A service this request depends on is unavailable.",
    ),
    "504": (
        "A service it depends on did not answer in time.",
        "upstream_timeout",
        "A service this request depends on did not answer in time.",
    ),
}

#: The platform's resources (the tags of its operations), described once for every document.
TAGS = {
    "auth": "Accounts, sign-in and tokens (auth_service).",
    "users": "Profiles and addresses (user_service).",
    "products": "The catalogue's products (product_service).",
    "categories": "The catalogue's categories (product_service).",
    "inventory": "Stock levels, adjustments and reservations (inventory_service).",
    "orders": "Orders and their saga (order_service).",
    "payments": "Payments and refunds (payment_service).",
    "console": "What needs attention and the audit trail, for the staff front page (staff only).",
}


def error_response(status: str, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI response object: the error body, with an example of ``status``'s code."""
    meaning, code, message = ERRORS[status]
    details: dict[str, Any] = {"field": ["This field is required."]} if status == "400" else {}
    example = {"error": {"code": code, "message": message, "details": details}}
    return {
        "description": description or meaning,
        "content": {
            "application/json": {"schema": ERROR_REF, "examples": {code: {"value": example}}}
        },
    }


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def summarize(method: str, path: str, is_list: bool) -> str:
    """A summary from the method and the path (``/api/v1/orders/{order_id}/cancel/``)."""
    segments = [s for s in path.split("/") if s and s != "api" and not re.fullmatch(r"v\d+", s)]
    words = [s.replace("-", " ").replace("_", " ") for s in segments if not s.startswith("{")]
    if not words:
        return f"{method.upper()} {path}"
    on_object = segments[-1].startswith("{")
    last = words[-1]
    owner = " ".join(singular(w) for w in words[:-1])
    owned = f"{owner} {singular(last)}".strip()
    if "me" in segments:  # the caller's own: /users/me/, /users/me/addresses/
        words = [w for w in words if w != "me"]
        mine = " ".join(words[1:]) or "profile"
        if on_object:
            mine = singular(mine)
        verb = {"get": "Get", "put": "Replace", "patch": "Update", "delete": "Delete"}
        if method == "post":
            return f"Add to my {mine}" if mine.endswith("s") else f"Post my {mine}"
        return f"{'List' if is_list else verb.get(method, method.title())} my {mine}"
    if method == "get":
        return f"List {owner + ' ' if owner else ''}{last}" if is_list else f"Get {owned}"
    if method == "post" and not on_object and len(segments) >= 2 and segments[-2].startswith("{"):
        # /orders/{id}/cancel/ is an action; /payments/{id}/refunds/ a collection of the object
        return f"Create {owned}" if last.endswith("s") else f"{last.capitalize()} {owner}"
    verb = {"post": "Create", "put": "Replace", "patch": "Update", "delete": "Delete"}
    return f"{verb.get(method, method.title())} {owned if on_object else singular(last)}"


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, with summaries, real error responses and typed ids (module doc)."""

    def get_summary(self) -> str | None:
        return super().get_summary() or summarize(
            self.method.lower(), self.path, self._is_list_view()
        )

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            name, schema = parameter["name"], parameter.get("schema", {})
            is_id = parameter["in"] == "path" and (name == "id" or name.endswith("_id"))
            if is_id and schema.get("type") == "string" and "format" not in schema:
                schema["format"] = "uuid"
        responses = operation.setdefault("responses", {})
        statuses = []
        if operation.get("requestBody") or any(p["in"] == "query" for p in parameters):
            statuses.append("400")
        security = operation.get("security")
        if security and {} not in security:
            statuses += ["401", "403"]
        if "{" in path:
            statuses.append("404")
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters):
            statuses += ["409", "422"]
        for status in statuses:
            responses.setdefault(status, error_response(status))
        for status, response in responses.items():
            # a view's own error response (extend_schema) gets the error body's example too
            if status in ERRORS and "content" not in response:
                response["content"] = error_response(status)["content"]
        return operation


def document_errors(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS`` entry: the ``Error`` component, every status an operation does
    not list as a ``default`` error, the tags' descriptions and the servers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    default = {
        "description": "An error: the status and the body's code say which.",
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    used: set[str] = set()
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method in METHODS:
                operation.setdefault("responses", {}).setdefault("default", default)
                used.update(operation.get("tags", []))
    result["tags"] = [
        {"name": tag, "description": TAGS.get(tag, f"The {tag} resource.")} for tag in sorted(used)
    ]
    result.setdefault("servers", [{"url": "/", "description": "The host serving this document."}])
    return result


def tidy(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS`` entry: what drf-spectacular writes that OpenAPI 3.0 linters refuse:
    django-filter's boolean filters with a string ``enum``, and ``nullable`` on a schema of any type
    (any value, null included: the ``nullable`` says nothing more)."""

    for node in each_object(result):
        if node.get("type") == "boolean" and "enum" in node:
            del node["enum"]
        if "nullable" in node and not {"type", "$ref", "allOf", "oneOf", "anyOf"} & set(node):
            del node["nullable"]
    return result


def each_object(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a document, ``node`` first, the ones inside it after it (each may be
    changed in place as it comes: its children are read after)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from each_object(value)
    elif isinstance(node, list):
        for value in node:
            yield from each_object(value)
