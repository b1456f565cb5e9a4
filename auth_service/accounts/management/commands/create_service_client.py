from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from accounts.models import ServiceClient
from service_kit.auth import revoke_client


class Command(BaseCommand):
    help = (
        "Create a service identity and print its generated secret (shown this once: it is "
        "stored hashed). With --secret, set that secret instead and print nothing secret; "
        "for an existing client this also replaces its scopes (compose, CI). --secret-file "
        "reads that secret from a file, so it appears in no process list (make up, the Helm "
        "chart's hook). Run again with the secret and scopes the client has, it changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("client_id", help="a slug, e.g. order_service")
        parser.add_argument("--scopes", nargs="*", default=[], help="e.g. payments:charge")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--secret", help="use this secret instead of generating one")
        secret.add_argument("--secret-file", help="use the secret this file holds")
        parser.add_argument("--description", default="")

    @transaction.atomic
    def handle(
        self, *args, client_id, scopes, secret=None, secret_file=None, description="", **options
    ):
        if secret_file:
            try:
                secret = Path(secret_file).read_text().strip()
            except OSError as exc:
                raise CommandError(f"Cannot read the secret file: {exc.strerror}") from exc
            if not secret:
                raise CommandError("The secret file is empty.")
        client = ServiceClient.objects.filter(client_id=client_id).first()
        if client is not None and not secret:
            raise CommandError(
                f"Service client {client_id!r} already exists: pass --secret to set its secret "
                "and scopes, or use the admin's 'reset secret' action."
            )
        if client is not None and not client.is_active:
            # Switched off in the admin (a leaked secret, say): a re-run (make up, the chart's
            # hook at every upgrade) must not switch it back on. The admin does that.
            self.stderr.write(f"{client_id} is switched off: left as it is (the admin turns it on)")
            self.stdout.write(f"inactive {client_id}")
            return
        created = client is None
        client = client or ServiceClient(client_id=client_id, description=description)
        try:
            scopes = services.scopes_clean(scopes)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        # Run again with what the client already has (make up, the chart's hook at every
        # upgrade): nothing to change, and its live tokens stay good.
        if secret and services.service_client_matches(client=client, secret=secret, scopes=scopes):
            self.stdout.write(f"unchanged {client_id}")
            return
        try:
            client.scopes = scopes
            client.full_clean(exclude=["secret_hash"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        made = services.service_client_set_secret(client=client, secret=secret)
        if not created:
            # Another secret or other scopes, as the admin's: the tokens it holds are refused
            # (its services fetch new ones at the refusal, service_kit.http).
            revoke_client(client_id)
        verb = "created" if created else "updated"
        if secret:
            self.stdout.write(f"{verb} {client_id}")
        else:
            self.stderr.write(f"{verb} {client_id}; its secret (shown once):")
            self.stdout.write(made)
