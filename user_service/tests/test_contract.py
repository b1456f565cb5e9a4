from platform_tools.testing.contract import error_contract_test, token_matrix_test

test_error_contract = error_contract_test(write="/api/v1/users/me/addresses/")

# Every bad token is refused on the caller's own routes; a service token (no "me") gets 403.
# The matrix's valid token belongs to a user with no profile here: 404, which is neither 401
# nor 403, as the matrix requires.
test_token_matrix_me = token_matrix_test("/api/v1/users/me/", method="patch")
test_token_matrix_addresses = token_matrix_test(
    "/api/v1/users/me/addresses/", method="post", body={"name": "Ada"}
)
test_token_matrix_avatar = token_matrix_test("/api/v1/users/me/avatar/", method="put")


test_token_matrix_me_get = token_matrix_test("/api/v1/users/me/")
