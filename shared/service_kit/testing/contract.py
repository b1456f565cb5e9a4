"""Reusable contract tests: a service points them at its own endpoints.

    # product_service/tests/test_contract.py
    from service_kit.testing.contract import error_contract_test

    test_error_contract = error_contract_test(read="/api/v1/products/")

Every case checks the status, the stable ``code`` and the exact error body of the API contract
(``{"error": {"code", "message", "details"}}``), JSON content type and ``X-Request-ID``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class ErrorCase:
    id: str
    method: str
    path: str
    status: int
    code: str
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def error_cases(
    *, read: str | None = None, write: str | None = None, max_body: int = 10 * 1024 * 1024
) -> list[ErrorCase]:
    """The cases for a service whose anonymous-readable list is ``read`` and whose write
    endpoint (any, protected or not) is ``write``; defaults cover the kit's own routes."""
    target = write or read or "/api/v1/"
    cases = [
        ErrorCase("unknown-path", "get", "/api/v1/no-such-resource/", 404, "not_found"),
        ErrorCase("unknown-root-path", "get", "/no-such-page", 404, "not_found"),
        ErrorCase("healthz-post", "post", "/healthz", 405, "method_not_allowed"),
        ErrorCase("malformed-json", "post", target, 400, "parse_error", b'{"name": '),
        ErrorCase("json-not-utf8", "post", target, 400, "parse_error", b'{"a": "\xff"}'),
        ErrorCase(
            "form-body",
            "post",
            target,
            415,
            "unsupported_media_type",
            b"a=1",
            "application/x-www-form-urlencoded",
        ),
        ErrorCase(
            "text-body", "post", target, 415, "unsupported_media_type", b"hello", "text/plain"
        ),
        ErrorCase(
            "too-large",
            "post",
            target,
            413,
            "payload_too_large",
            b"[" + b"0," * (max_body // 2) + b"0]",
        ),
    ]
    if read:
        cases.append(ErrorCase("read-delete", "delete", read, 405, "method_not_allowed"))
        cases.append(ErrorCase("bad-page", "get", f"{read}?page=999999", 404, "not_found"))
    return cases


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    assert response.get("X-Request-ID")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body


def error_contract_test(*, read: str | None = None, write: str | None = None):
    """A parametrized pytest test of the error contract on this service's endpoints."""
    from django.conf import settings

    cases = error_cases(read=read, write=write, max_body=settings.MAX_REQUEST_BODY_SIZE)

    @pytest.mark.django_db
    @pytest.mark.parametrize("case", cases, ids=[case.id for case in cases])
    def test_error_contract(client, case: ErrorCase):
        kwargs = {"HTTP_X_REQUEST_ID": f"contract-{case.id}"}
        if case.body is not None:
            kwargs.update(data=case.body, content_type=case.content_type)
        response = getattr(client, case.method)(case.path, **kwargs)
        assert_error(response, case.status, case.code)
        assert response["X-Request-ID"] == f"contract-{case.id}"

    return test_error_contract
