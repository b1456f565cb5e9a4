"""Demo accounts for a newcomer's first ``make up``: a staff member and a customer.

Idempotent; the password is made once and kept in the platform's data folder (outside the source
tree), so every run prints the same credentials. Refused in the real profile."""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from accounts.services import user_register
from service_kit.conf import data_dir, write_private
from service_kit.roles import MFA_ROLES, STAFF_ROLES

STAFF = "staff@demo.local"
CUSTOMER = "customer@demo.local"
#: Every staff role that needs no second factor (so the demo needs no authenticator app).
DEMO_ROLES = tuple(role for role in STAFF_ROLES if role not in MFA_ROLES)


def demo_password() -> str:
    path = data_dir() / "demo-password"
    if not path.exists():
        write_private(path, f"Demo-{secrets.token_urlsafe(9)}")
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create the demo staff member and customer (embedded profile only) and print them."

    def handle(self, *args, **options):
        if settings.PLATFORM_PROFILE != "embedded":
            raise CommandError("Demo accounts are for the embedded profile only.")
        password = demo_password()
        with transaction.atomic():
            for email in (STAFF, CUSTOMER):
                if not User.objects.filter(email=email).exists():
                    user_register(email=email, password=password, first_name="Demo")
            staff = User.objects.get(email=STAFF)
            if not staff.is_staff:
                staff.is_staff = True
                staff.save(update_fields=["is_staff"])
            staff.groups.add(*Group.objects.filter(name__in=DEMO_ROLES))
        self.stdout.write(
            f"demo staff    {STAFF} / {password}  (roles: {', '.join(DEMO_ROLES)})\n"
            f"demo customer {CUSTOMER} / {password}"
        )
