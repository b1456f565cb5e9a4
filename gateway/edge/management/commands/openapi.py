"""``manage.py openapi [--output FILE] [--services-dir DIR]``: the platform's merged OpenAPI
document, built offline from each service's own (``make openapi``; see edge.openapi)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from edge.openapi import build, docs_services, offline_documents


class Command(BaseCommand):
    help = "Write the platform's merged OpenAPI document (and, optionally, each service's)."

    def add_arguments(self, parser):
        parser.add_argument("--output", default="-", help="the merged document's file (- stdout)")
        parser.add_argument("--services-dir", help="also write <service>.json here")

    def handle(self, *args, output: str, services_dir: str | None, **options):
        services = [name for name in docs_services() if name in settings.UPSTREAMS]
        documents = offline_documents(services)
        if services_dir:
            folder = Path(services_dir)
            folder.mkdir(parents=True, exist_ok=True)
            for name, document in documents.items():
                (folder / f"{name}.json").write_text(json.dumps(document, indent=2))
        text = json.dumps(build(documents), indent=2)
        if output == "-":
            self.stdout.write(text)
        else:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            Path(output).write_text(text + "\n")
            self.stderr.write(f"openapi: {output} ({len(services)} services)")
