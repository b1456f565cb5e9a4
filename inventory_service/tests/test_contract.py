"""The error contract and the token matrix on inventory's protected endpoints.

The kit's ``token_matrix_test`` proves its "valid token" case with a customer's token, and these
endpoints are for staff: the same matrix (the kit's cases) runs here with a staff token as the
good one, plus a customer's, which is authenticated but refused.
"""

import json

import pytest

from platform_tools.testing.contract import (
    TOKEN_CASE_IDS,
    assert_error,
    error_contract_test,
    token_cases,
)

from .factories import StockItemFactory

test_error_contract = error_contract_test(
    read="/api/v1/inventory/MUG/", write="/api/v1/inventory/MUG/adjustments/"
)

ENDPOINTS = [
    ("get", "/api/v1/inventory/", None, "support"),
    ("get", "/api/v1/inventory/MUG/adjustments/", None, "support"),
    (
        "post",
        "/api/v1/inventory/MUG/adjustments/",
        {"kind": "restock", "quantity": 1, "reason": "matrix"},
        "inventory_manager",
    ),
]


@pytest.fixture(scope="module")
def bad_tokens(_mint_key) -> dict:
    # Made once (each set makes a stranger's RSA key); the tokens live five minutes.
    return {case[0]: case for case in token_cases(_mint_key)}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "role"), ENDPOINTS, ids=lambda v: str(v))
@pytest.mark.parametrize("case_id", [*TOKEN_CASE_IDS, "customer-token", "staff-token"])
def test_token_matrix(client, mint, bad_tokens, method, path, body, role, case_id):
    StockItemFactory(sku="MUG")
    kwargs = {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
    if case_id in ("customer-token", "staff-token"):
        roles = ["customer"] if case_id == "customer-token" else [role]
        headers = mint.headers(email="matrix@example.com", roles=roles)
        response = getattr(client, method)(path, **headers, **kwargs)
        if case_id == "customer-token":
            assert_error(response, 403, "permission_denied")
        else:
            assert response.status_code in (200, 201), response.content[:300]
        return
    _, header, status, code = bad_tokens[case_id]
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = getattr(client, method)(path, **extra, **kwargs)
    assert_error(response, status, code)
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
