"""``make lint``'s OpenAPI check (platform_tools.testing.openapi): redocly with the repository's
rules passes a document as the kit writes them and fails one as drf-spectacular alone wrote them
(no summary, errors only as ``default``, no servers)."""

from __future__ import annotations

import json
import shutil

import pytest

from platform_tools.testing import backing, openapi

# make tools installs node and npm; only a run that does not require every tool may skip
pytestmark = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("npm")) and not backing.required(),
    reason="node and npm (make tools)",
)

ERROR = {"$ref": "#/components/schemas/Error"}


def document(operation: dict, **top) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1.0.0", "description": "D"},
        "paths": {"/api/v1/things/": {"get": operation}},
        "components": {
            "schemas": {"Error": {"type": "object", "properties": {"code": {"type": "string"}}}},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        **top,
    }


def answer(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def test_the_kits_shape_passes_and_a_bare_document_fails(tmp_path, capsys):
    described = document(
        {
            "operationId": "things_list",
            "summary": "List things",
            "description": "Every thing.",
            "tags": ["things"],
            "security": [{"bearerAuth": []}],
            "responses": {"200": answer("The things."), "401": answer("No valid token.")},
        },
        servers=[{"url": "/"}],
        tags=[{"name": "things", "description": "Things."}],
    )
    bare = document(
        {
            "operationId": "things_list",
            "security": [{"bearerAuth": []}],
            "responses": {"200": answer("The things."), "default": answer("An error.")},
        }
    )
    (tmp_path / "described.json").write_text(json.dumps(described))
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    assert openapi.lint([tmp_path / "described.json"]) == 0
    capsys.readouterr()
    assert openapi.lint([tmp_path / "bare.json"]) == 1
    out = capsys.readouterr().out
    assert "operation-summary" in out and "no-empty-servers" in out
