"""``manage.py prepare``: what ``make up`` does to a service before starting it, in one process
(one Django start instead of three): migrate, load the demo data where the service has some,
collect the static files."""

from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Migrate, load the demo data (if the service has a load_demo command), collectstatic."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if "load_demo" in get_commands():
            try:
                call_command("load_demo", stdout=self.stdout)
            except CommandError as exc:  # refused outside the embedded profile: say why, go on
                self.stdout.write(f"no demo data: {exc}")
        call_command("collectstatic", interactive=False, verbosity=0)
