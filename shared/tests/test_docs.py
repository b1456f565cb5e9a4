"""OpenAPI schema and its docs, served by every service without a CDN."""

import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "/api/schema/?format=json"},
        {"path": "/api/schema/", "HTTP_ACCEPT": "application/json"},
    ],
)
def test_schema_is_openapi_3_json(client, kwargs):
    response = client.get(kwargs.pop("path"), **kwargs)
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/notes/" in schema["paths"]


def test_every_operation_documents_the_error_body(client):
    schema = json.loads(client.get("/api/schema/?format=json").content)

    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        default = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert default == {"$ref": "#/components/schemas/Error"}


def test_swagger_ui_uses_local_assets(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_local_media_is_served_in_the_embedded_profile(client, settings):
    folder = settings.MEDIA_ROOT / "avatars"  # this run's own data folder (the kit's plugin)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.png").write_bytes(b"\x89PNG-bytes")
    response = client.get("/media/avatars/a.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG-bytes"
    assert client.get("/media/../settings.py").status_code == 400  # no way out of the folder
