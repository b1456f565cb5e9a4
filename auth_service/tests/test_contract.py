from platform_tools.testing.contract import error_contract_test

# A public write endpoint: bodies are parsed before any credentials are looked at.
test_error_contract = error_contract_test(write="/api/v1/auth/register/")
