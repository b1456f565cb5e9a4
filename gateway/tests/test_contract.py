from platform_tools.testing.contract import error_contract_test

test_error_contract = error_contract_test()
