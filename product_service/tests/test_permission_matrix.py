"""Every admin model and API operation of product_service against its permission matrix."""

from pathlib import Path

from platform_tools.testing.permissions import permission_matrix_tests

(
    test_admin_models_all_listed,
    test_api_operations_all_listed,
    test_admin_cells,
    test_api_cells,
) = permission_matrix_tests(Path(__file__).with_name("permission_matrix.toml"))
