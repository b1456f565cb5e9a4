"""The kit's OpenAPI documents (service_kit.api.openapi) and their merge (openapi_merge)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from service_kit.api.openapi import summarize
from service_kit.api.openapi_merge import merge
from service_kit.conf import platform_version


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_has_a_summary_a_resource_tag_and_its_real_errors(document):
    notes, whoami = document["paths"]["/api/v1/notes/"], document["paths"]["/api/v1/whoami/"]
    assert (notes["get"]["summary"], notes["post"]["summary"]) == ("List notes", "Create note")
    assert notes["get"]["tags"] == ["notes"] and notes["get"]["operationId"] == "notes_list"
    # public: no 401/403; a body or filters: 400; a token needed: 401 and 403
    assert set(notes["post"]["responses"]) == {"201", "400", "default"}
    assert set(whoami["get"]["responses"]) == {"200", "401", "403", "default"}
    unauthenticated = whoami["get"]["responses"]["401"]["content"]["application/json"]
    assert unauthenticated["schema"] == {"$ref": "#/components/schemas/Error"}
    example = unauthenticated["examples"]["not_authenticated"]["value"]
    assert example["error"]["code"] == "not_authenticated"
    # the kit's console API (staff front page) is every service's
    assert {tag["name"] for tag in document["tags"]} == {"notes", "whoami", "console"}
    assert document["info"]["version"] == "1.0.0"  # its api_version; the merged one: the release's
    assert document["servers"][0]["url"] == "/"


def test_the_version_follows_the_release(monkeypatch):
    monkeypatch.setenv("PLATFORM_VERSION", "v2.3.4")
    assert platform_version() == "2.3.4"


@pytest.mark.parametrize(
    ("method", "path", "is_list", "summary"),
    [
        ("get", "/api/v1/orders/", True, "List orders"),
        ("post", "/api/v1/orders/", False, "Create order"),
        ("get", "/api/v1/orders/{order_id}/", False, "Get order"),
        ("post", "/api/v1/orders/{order_id}/cancel/", False, "Cancel order"),
        ("post", "/api/v1/payments/{payment_id}/refunds/", False, "Create payment refund"),
        ("patch", "/api/v1/categories/{key}/", False, "Update category"),
        ("get", "/api/v1/users/me/addresses/", True, "List my addresses"),
        ("delete", "/api/v1/users/me/addresses/{address_id}/", False, "Delete my address"),
        ("get", "/api/v1/users/me/", False, "Get my profile"),
    ],
)
def test_summaries_made_from_the_method_and_path(method, path, is_list, summary):
    assert summarize(method, path, is_list) == summary


def service(paths: dict, schemas: dict) -> dict:
    return {
        "openapi": "3.0.3",
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object"}, **schemas},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def operation(op_id: str, ref: str) -> dict:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
    return {
        "operationId": op_id,
        "tags": [op_id.split("_")[0]],
        "security": [{"bearerAuth": []}],
        "responses": {"200": {"description": "ok", "content": content}},
    }


def test_merge_keeps_routed_paths_and_renames_only_what_clashes():
    documents = {
        "order": service(
            {
                "/api/v1/orders/": {"get": operation("orders_list", "Order")},
                "/internal/sweep/": {"post": operation("sweep", "Order")},
            },
            {
                "StatusEnum": {"type": "string", "enum": ["PENDING"]},
                "Order": {"properties": {"status": {"$ref": "#/components/schemas/StatusEnum"}}},
                "Money": {"type": "string"},
            },
        ),
        "payment": service(
            {"/pay/": {"get": operation("payments_list", "Order")}},
            {
                "StatusEnum": {"type": "string", "enum": ["SUCCEEDED"]},
                # the same text as order's, but its StatusEnum is another one: renamed too
                "Order": {"properties": {"status": {"$ref": "#/components/schemas/StatusEnum"}}},
                "Money": {"type": "string"},
            },
        ),
    }
    routes = [
        ("/api/v1/orders/", "order", "/api/v1/orders/"),
        ("/api/v1/payments/", "payment", "/pay/"),
    ]
    merged = merge(documents, routes, title="T", version="1.2.3")

    assert list(merged["paths"]) == ["/api/v1/orders/", "/api/v1/payments/"]  # no /internal/
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {
        "Error",
        "Money",
        "OrderOrder",
        "OrderStatusEnum",
        "PaymentOrder",
        "PaymentStatusEnum",
    }
    assert schemas["PaymentOrder"]["properties"]["status"] == {
        "$ref": "#/components/schemas/PaymentStatusEnum"
    }
    payments = merged["paths"]["/api/v1/payments/"]["get"]
    body = payments["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PaymentOrder"}
    assert list(merged["components"]["securitySchemes"]) == ["bearerAuth"]
    assert {"429", "503", "504"} <= set(payments["responses"])
    assert merged["info"]["version"] == "1.2.3"
    assert [tag["name"] for tag in merged["tags"]] == ["orders", "payments"]
    assert merge(documents, routes, title="T", version="1.2.3") == merged  # deterministic


def test_merge_prefixes_a_clashing_operation_id():
    documents = {
        "a": service({"/a/": {"get": operation("things_list", "Error")}}, {}),
        "b": service({"/b/": {"get": operation("things_list", "Error")}}, {}),
    }
    merged = merge(documents, [("/a/", "a", "/a/"), ("/b/", "b", "/b/")], title="T", version="1")
    ids = [merged["paths"][p]["get"]["operationId"] for p in ("/a/", "/b/")]
    assert ids == ["things_list", "b_things_list"]
