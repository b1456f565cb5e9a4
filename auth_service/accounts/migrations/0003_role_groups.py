"""One Django group per staff role: admins give a staff member a role by adding them to its group
(``customer`` is every non-staff account's role and has no group)."""

from django.db import migrations

# Frozen here: a migration must not change when service_kit.roles.ROLES does later.
STAFF_ROLES = (
    "catalogue_manager",
    "inventory_manager",
    "order_manager",
    "payment_manager",
    "support",
    "admin",
)


def create_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in STAFF_ROLES:
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_service_clients_and_erasure"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Going back keeps the groups: deleting them would drop every staff member's role.
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
