"""The API contract's error answers in every service's OpenAPI document (API.md, "Errors").

drf-spectacular documents what each view answers when it succeeds; every error the kit makes has
one body, so a post-processing hook gives every operation a ``default`` response with that body.
Clients generated from the schema then know the error shape, and schema-driven fuzzing checks it.
"""

from __future__ import annotations

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
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def document_errors(result, generator, request, public):
    """``POSTPROCESSING_HOOKS`` entry: any status an operation does not list is an ``Error``."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    default = {
        "description": "An error: the status and the body's code say which.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method in METHODS:
                operation.setdefault("responses", {}).setdefault("default", default)
    return result
