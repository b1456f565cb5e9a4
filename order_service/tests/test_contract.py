"""The error contract and the token matrix on order_service's endpoints."""

import uuid

from platform_tools.testing.contract import error_contract_test, token_matrix_test

MISSING = uuid.UUID("00000000-0000-4000-8000-00000000dead")

test_error_contract = error_contract_test(write="/api/v1/orders/")

test_token_matrix_list = token_matrix_test("/api/v1/orders/")
# No endpoint here is staff-only (customers and staff share them; what each sees differs, see
# test_orders_api), so every matrix runs with a customer's token as the good one.
# A valid token reaches validation (400): no catalogue call is made for an empty body.
test_token_matrix_create = token_matrix_test("/api/v1/orders/", method="post", body={})
test_token_matrix_detail = token_matrix_test(f"/api/v1/orders/{MISSING}/")
test_token_matrix_cancel = token_matrix_test(f"/api/v1/orders/{MISSING}/cancel/", method="post")
