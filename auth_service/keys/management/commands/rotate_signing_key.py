from django.core.management.base import BaseCommand

from keys.services import key_rotate


class Command(BaseCommand):
    help = (
        "Make a new signing key the one that signs new tokens; the previous one keeps verifying "
        "the tokens it signed. With --kid, activate a key whose <kid>.pem is already in "
        "JWT_SIGNING_KEYS_DIR (a mounted secret); without it, generate one there."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kid", help="activate this existing key instead of generating one")

    def handle(self, *args, kid=None, **options):
        key = key_rotate(kid=kid)
        self.stdout.write(key.kid)
