"""A new service of the platform, made by the README's recipe ("Adding an eighth service").

    make new-service NAME=review_service     # python -m platform_tools.scaffold review_service

makes the folder ``review_service/``: its project package (a settings screen saying only what is
the service's own, the kit's urls, wsgi, asgi and Celery entry points), a small domain app
``reviews/`` (a model, a selector, a service that publishes ``review.created`` through the outbox,
a list-and-create API, a read-only admin, its first migration) and ``tests/`` (the kit's contract
tests, the permission matrix and the app's own test). Then it registers the service where the
platform looks for it, one line each: the table of services (``SERVICE_NAMES``, which gives the
port, ``make up``, ``make test`` and ``make lint`` their lists), the gateway's API route and admin
mount, its message contracts in the image (``contracts/messages/review.created.v1.json``, in
its folder), the Makefile's image list,
Jenkins's test stages and the chart's services (the GitHub workflow's suites are ``make
affected``'s, which reads the table). Compose
(its services, database, broker user and secrets) is the operator's to extend: ``make lint``'s
compose validator names each piece the new service is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template

NAME = re.compile(r"^(?P<service>[a-z]+(?:_[a-z]+)*)_service$")

FILES = {
    "manage.py": """\
#!/usr/bin/env python
from service_kit.entrypoints import manage

if __name__ == "__main__":
    manage("${folder}.settings")
""",
    "pytest.ini": """\
[pytest]
DJANGO_SETTINGS_MODULE = ${folder}.settings
testpaths = tests
addopts = -p no:cacheprovider
""",
    "${folder}/__init__.py": """\
from .celery import app as celery_app

__all__ = ["celery_app"]
""",
    "${folder}/settings.py": '''\
"""${folder}: ${app}. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(service_settings(service="${service}", apps=["${app}"]))
''',
    "${folder}/urls.py": """\
from django.urls import include, path

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = service_urlpatterns(path("api/v1/", include("${app}.urls")))

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
""",
    "${folder}/wsgi.py": """\
from service_kit.entrypoints import wsgi_application

application = wsgi_application("${folder}.settings")
""",
    "${folder}/asgi.py": """\
from service_kit.entrypoints import asgi_application

application = asgi_application("${folder}.settings")
""",
    "${folder}/celery.py": """\
from service_kit.messaging import make_celery_app

app = make_celery_app("${folder}.settings")
""",
    "${app}/__init__.py": "",
    "${app}/migrations/__init__.py": "",
    "${app}/models.py": '''\
"""${folder}'s own data."""

import uuid

from django.db import models


class ${Model}(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    created_by = models.UUIDField(null=True, blank=True)  # the person whose token made it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.name
''',
    "${app}/selectors.py": '''\
"""Reads of ${app}."""

from django.db.models import QuerySet

from .models import ${Model}


def ${app}() -> QuerySet[${Model}]:
    return ${Model}.objects.all()
''',
    "${app}/services.py": '''\
"""Writes of ${app}: each change and the event announcing it commit together (the outbox)."""

from django.db import transaction

from service_kit.messaging import publish_event

from .models import ${Model}


@transaction.atomic
def create_${service}(*, name: str, created_by: str | None = None) -> ${Model}:
    ${service} = ${Model}.objects.create(name=name, created_by=created_by)
    publish_event("${event}", {"${service}_id": str(${service}.id), "name": ${service}.name})
    return ${service}
''',
    "${app}/serializers.py": """\
from rest_framework import serializers

from .models import ${Model}


class ${Model}Serializer(serializers.ModelSerializer):
    class Meta:
        model = ${Model}
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]
""",
    "${app}/views.py": '''\
"""The ${app} API: anyone reads, a signed-in person writes."""

from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from service_kit.auth import IsUser

from . import selectors, services
from .serializers import ${Model}Serializer


class ${Model}List(generics.GenericAPIView):
    serializer_class = ${Model}Serializer

    def get_permissions(self):
        method = self.request.method.lower()
        # A method the view does not have protects nothing: its 405 comes before any 401.
        if method in ("get", "head", "options") or not hasattr(self, method):
            return [AllowAny()]
        return [IsUser()]

    def get(self, request):
        page = self.paginate_queryset(selectors.${app}())
        return self.get_paginated_response(${Model}Serializer(page, many=True).data)

    def post(self, request):
        serializer = ${Model}Serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ${service} = services.create_${service}(
            name=serializer.validated_data["name"], created_by=request.user.id
        )
        return Response(${Model}Serializer(${service}).data, status=status.HTTP_201_CREATED)
''',
    "${app}/urls.py": """\
from django.urls import path

from . import views

urlpatterns = [path("${app}/", views.${Model}List.as_view(), name="${app}")]
""",
    "${app}/admin.py": '''\
"""${app} in the admin: looked at here, made through the API (which announces them)."""

from django.contrib import admin

from .models import ${Model}


@admin.register(${Model})
class ${Model}Admin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
''',
    "tests/__init__.py": "",
    "tests/test_contract.py": '''\
"""The kit's contract tests on the ${app} API."""

from platform_tools.testing.contract import error_contract_test, token_matrix_test

test_error_contract = error_contract_test(read="/api/v1/${app}/", write="/api/v1/${app}/")
test_token_matrix = token_matrix_test("/api/v1/${app}/", method="post", body={"name": "A"})
''',
    "tests/test_permission_matrix.py": '''\
"""Every admin model and API operation of ${folder} against its permission matrix."""

from pathlib import Path

from platform_tools.testing.permissions import permission_matrix_tests

(
    test_admin_models_all_listed,
    test_api_operations_all_listed,
    test_admin_cells,
    test_api_cells,
) = permission_matrix_tests(Path(__file__).with_name("permission_matrix.toml"))
''',
    "tests/permission_matrix.toml": """\
# ${folder}'s slice of the platform's permission matrix (platform_tools/testing/permissions.py).

[admin."${app}.${Model}"]
view = ["support", "admin"]
add = []
change = []
delete = ["admin"]

[api."GET api/v1/${app}/"]
allow = ["anyone"]

[api."POST api/v1/${app}/"]
allow = ["people"]
""",
    "tests/test_${app}.py": '''\
"""A ${service} written through the API is listed and announced (${event} in the outbox)."""

import pytest

from service_kit.models import OutboxMessage


@pytest.mark.django_db
def test_a_${service}_is_listed_and_announced(client, mint):
    headers = mint.headers(roles=["customer"])
    made = client.post("/api/v1/${app}/", {"name": "First"}, "application/json", **headers)
    assert made.status_code == 201, made.content
    assert [row["name"] for row in client.get("/api/v1/${app}/").json()["results"]] == ["First"]
    (sent,) = OutboxMessage.objects.filter(routing_key="${event}")
    assert sent.envelope["data"] == {"${service}_id": made.json()["id"], "name": "First"}
''',
    "contracts/messages/${event}.v1.json": """\
{
  "type": "${event}",
  "kind": "event",
  "version": "1.0",
  "schema": {
    "type": "object",
    "required": ["${service}_id", "name"],
    "properties": {
      "${service}_id": {"type": "string", "format": "uuid", "minLength": 32, "maxLength": 36},
      "name": {"type": "string"}
    }
  }
}
""",
}


class Refused(Exception):
    """The name cannot be a new service here (the message says why)."""


def names(folder: str, app: str | None = None) -> dict[str, str]:
    match = NAME.match(folder)
    if not match:
        raise Refused(f"{folder!r}: a service is a folder named <name>_service, in lower case")
    service = match["service"]
    app = app or f"{service}s"
    if not re.fullmatch(r"[a-z]+(?:_[a-z]+)*", app) or app == folder:
        raise Refused(f"{app!r}: the domain app's name is lower case letters and underscores")
    model = "".join(part.capitalize() for part in service.split("_"))
    return {
        "folder": folder,
        "service": service,
        "app": app,
        "Model": model,
        "event": f"{service}.created",
    }


# -- the shared places a service is registered in ------------------------------------------------


class Edits(dict[Path, str]):
    """The shared files' new texts, all found to fit before any is written."""

    def insert(self, path: Path, anchor: str, end: str, text: str) -> None:
        """``text`` inserted before the first ``end`` after ``anchor`` in the file."""
        source = self[path] if path in self else path.read_text()
        start = source.find(anchor)
        stop = source.find(end, start + len(anchor)) if start >= 0 else -1
        if stop < 0:
            raise Refused(f"{path.name}: {anchor.strip()!r} not found; register it by hand")
        self[path] = source[:stop] + text + source[stop:]

    def append(self, path: Path, text: str) -> None:
        self[path] = (self[path] if path in self else path.read_text()) + text


JENKINS_STAGE = """
                        stage('${folder}') {
                            when { expression { affected('${folder}') } }
                            steps { sh 'make test SUITES=${folder} JUNIT_DIR=reports/junit' }
                            post { always { junit 'reports/junit/${folder}.xml' } }
                        }"""


def registrations(root: Path, n: dict[str, str]) -> Edits:
    """One line in each shared place."""
    edits = Edits()
    edits.insert(
        root / "shared/service_kit/conf.py", "SERVICE_NAMES = (", "\n)", f'\n    "{n["service"]}",'
    )
    routes = root / "gateway/edge/routes.py"
    edits.insert(routes, "ADMIN_SEGMENTS = {", "\n}", f'\n    "{n["app"]}": "{n["service"]}",')
    # The staff console: its admin's header, and its link for support (and admin).
    edits.insert(
        root / "shared/service_kit/roles.py",
        "ADMINS: dict[",
        '\n    "gateway": ',
        f'\n    "{n["service"]}": ("{n["app"]}", "{n["app"].capitalize()}", ("support",)),',
    )
    # Public reads, as the domain app's API has them (its writes need a token).
    route = (
        f'\n        Route(\n            "{n["app"]}",\n            "/api/v1/{n["app"]}/",\n'
        f'            "{n["service"]}",\n'
        f"            public_methods=PUBLIC_METHODS | READ_METHODS,\n        ),"
    )
    edits.insert(routes, "def default_routes", "\n    ]\n", route)
    # Its message contracts travel in every image (a consumer validates what it sends).
    edits.insert(
        root / "shared/docker/Dockerfile",
        "COPY shared/service_kit /app/shared/service_kit",
        "\nCOPY ${SERVICE}",
        f"\nCOPY {n['folder']}/contracts/messages /app/{n['folder']}/contracts/messages",
    )
    edits.insert(root / "Makefile", "SERVICE_DIRS :=", "\n", f" {n['folder']}")
    # The pipelines' suite lists and the chart's services: lists with one more entry.
    stage = Template(JENKINS_STAGE).substitute(n)
    edits.insert(
        root / "Jenkinsfile",
        "stage('Unit tests')",
        "\n                    }\n                }",
        stage,
    )
    values = root / "charts/platform/values.yaml"
    entry = f"\n  {n['service']}:\n    folder: {n['folder']}\n    env: {{}}"
    edits.insert(values, "\nservices:\n", "\n\n# Which service calls which", entry)
    # the gateway calls every service (the mesh allows exactly the calls listed)
    edits.insert(values, "\ncalls:\n  gateway: [", "]", f", {n['service']}")
    return edits


def _taken(root: Path, n: dict[str, str]) -> str:
    """Why the names collide with what the platform has ("" when they do not)."""
    if (root / n["folder"]).exists():
        return f"{n['folder']}/ exists"
    conf = (root / "shared/service_kit/conf.py").read_text()
    if f'"{n["service"]}",' in conf.split("SERVICE_NAMES = (", 1)[-1].split(")", 1)[0]:
        return f"{n['service']!r} is a service already"
    if list(root.glob(f"*/{n['app']}/apps.py")) or list(root.glob(f"*/{n['app']}/models.py")):
        return f"an app named {n['app']!r} exists (choose another with --app)"
    if f'"{n["app"]}": ' in (root / "gateway/edge/routes.py").read_text():
        return f"the gateway has a route named {n['app']!r} (choose another with --app)"
    return ""


def scaffold(root: Path, folder: str, app: str | None = None) -> list[Path]:
    """Make the service and register it; the paths written, in order."""
    n = names(folder, app)
    if not (root / "shared/service_kit/conf.py").exists():
        raise Refused(f"{root} is not the platform's repository (run it from its top folder)")
    if problem := _taken(root, n):
        raise Refused(problem)
    edits = registrations(root, n)
    made = []
    for relative, template in FILES.items():
        path = root / folder / Template(relative).substitute(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(n))
        made.append(path)
    (root / folder / "manage.py").chmod(0o755)
    for path, text in edits.items():
        path.write_text(text)
        made.append(path)
    made.append(_first_migration(root, n))
    return made


def _first_migration(root: Path, n: dict[str, str]) -> Path:
    """Django writes the app's first migration (with the new registrations in place)."""
    with tempfile.TemporaryDirectory() as data:
        # This repository's kit (a copy's, when the scaffold runs in one), whatever is installed.
        paths = [str(root / "shared"), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PLATFORM_DATA_DIR": data, "PYTHONPATH": os.pathsep.join(paths)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", "makemigrations", n["app"], "-n", "initial"],
            cwd=root / n["folder"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        raise Refused(
            f"{n['folder']} is made and registered, but makemigrations failed (fix, then run it):"
            f"\n{result.stdout}{result.stderr}"
        )
    return root / n["folder"] / n["app"] / "migrations" / "0001_initial.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platform_tools.scaffold", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("name", help="the service's folder: <name>_service")
    parser.add_argument("--app", help="its domain app (default: <name>s)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        made = scaffold(root, args.name, args.app)
    except Refused as refusal:
        print(f"new-service: {refusal}", file=sys.stderr)
        return 2
    for path in made:
        print(f"  {path.relative_to(root)}")
    n = names(args.name, args.app)
    print(
        f"\n{args.name} made and registered. Next: its domain in {n['app']}/; "
        f"`make lint` names the delivery artifacts to extend (README, Adding a service)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
