from accounts.models import User
from django.core.management.base import BaseCommand, CommandError

from mfa.services import totp_device_create, totp_device_for


class Command(BaseCommand):
    help = (
        "Give a staff member a TOTP device (or show the one they have) and print its otpauth:// "
        "URI for their authenticator app. Payment managers and admins need one for the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--reset", action="store_true", help="drop the user's devices and make a new key"
        )

    def handle(self, *args, email: str, reset: bool, **options):
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No account with the email address {email!r}.")
        device = None if reset else totp_device_for(user=user)
        if device is None:
            device = totp_device_create(user=user, replace=reset)
        self.stdout.write(device.config_url)
