"""Every admin model and API operation of auth_service against its permission matrix."""

from pathlib import Path

from accounts.models import User

from platform_tools.testing.permissions import permission_matrix_tests
from service_kit.admin_sso import role_groups_sync


def staff_member(identity) -> None:
    """Here the person is no shadow: their own row, in the groups of their roles."""
    user = User.objects.create(
        id=identity.user_id,
        email=identity.email,
        is_staff=True,
        is_superuser="admin" in identity.roles,
    )
    user.groups.set(role_groups_sync(identity.staff_roles))


(
    test_admin_models_all_listed,
    test_api_operations_all_listed,
    test_admin_cells,
    test_api_cells,
) = permission_matrix_tests(
    Path(__file__).with_name("permission_matrix.toml"), prepare_staff=staff_member
)
