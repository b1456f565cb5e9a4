"""The kit's contract tests on the catalogue's endpoints."""

import json

import pytest

from platform_tools.testing.contract import (
    TOKEN_CASE_IDS,
    assert_error,
    error_contract_test,
    token_cases,
)

from .factories import ProductFactory

test_error_contract = error_contract_test(read="/api/v1/products/", write="/api/v1/products/")


# The token matrix on the protected endpoints. The kit's token_matrix_test checks its valid
# token with the customer role, which these endpoints refuse (403) by design; this is the same
# matrix with the role they need for the valid token, and a customer's token as one more case.


def _body(method: str, body: dict | None) -> dict:
    if method == "get":
        return {}
    return {"content_type": "application/json", "data": json.dumps(body or {})}


@pytest.fixture(scope="session")
def matrix_cases(_mint_key):
    # Each set of cases makes a stranger's RSA key: one set for the whole matrix.
    return {case[0]: case for case in token_cases(_mint_key)}


def role_token_matrix_test(path: str, *, method: str, body: dict | None = None, role: str):
    @pytest.mark.django_db
    @pytest.mark.parametrize("case_id", [*TOKEN_CASE_IDS, "customer", "valid-token"])
    def test_token_matrix(client, mint, matrix_cases, case_id):
        product = ProductFactory(sku="MATRIX-1", slug="matrix-1")
        url = path.format(product=product.pk)
        kwargs = _body(method, body)
        if case_id in ("customer", "valid-token"):
            roles = ["customer"] if case_id == "customer" else [role]
            response = getattr(client, method)(url, **mint.headers(roles=roles), **kwargs)
            if case_id == "customer":
                assert_error(response, 403, "permission_denied")
            else:
                assert response.status_code not in (401, 403), response.content[:300]
            return
        _, header, status, code = matrix_cases[case_id]
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = getattr(client, method)(url, **extra, **kwargs)
        assert_error(response, status, code)
        if status == 401:
            assert response["WWW-Authenticate"].startswith("Bearer")

    return test_token_matrix


MANAGER = "catalogue_manager"
test_token_matrix_product_create = role_token_matrix_test(
    "/api/v1/products/",
    method="post",
    body={"sku": "MATRIX-2", "name": "Matrix", "price": "1.00"},
    role=MANAGER,
)
test_token_matrix_product_update = role_token_matrix_test(
    "/api/v1/products/{product}/", method="patch", body={"price": "2.00"}, role=MANAGER
)
test_token_matrix_product_delete = role_token_matrix_test(
    "/api/v1/products/{product}/", method="delete", role=MANAGER
)
test_token_matrix_image_upload = role_token_matrix_test(
    "/api/v1/products/{product}/images/", method="post", role=MANAGER
)
test_token_matrix_image_delete = role_token_matrix_test(
    "/api/v1/products/{product}/images/3fa85f64-5717-4562-b3fc-2c963f66afa6/",
    method="delete",
    role=MANAGER,
)
test_token_matrix_category_create = role_token_matrix_test(
    "/api/v1/categories/", method="post", body={"name": "Matrix"}, role=MANAGER
)
test_token_matrix_category_update = role_token_matrix_test(
    "/api/v1/categories/no-such/", method="patch", body={"name": "Matrix"}, role=MANAGER
)
