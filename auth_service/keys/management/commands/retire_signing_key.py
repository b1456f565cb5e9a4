from django.core.management.base import BaseCommand, CommandError

from keys.models import SigningKey
from keys.services import key_retire


class Command(BaseCommand):
    help = "Drop a key from the JWKS once the tokens it signed have expired: they are refused."

    def add_arguments(self, parser):
        parser.add_argument("kid")

    def handle(self, *args, kid, **options):
        try:
            key_retire(kid=kid)
        except (SigningKey.DoesNotExist, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"retired {kid}")
