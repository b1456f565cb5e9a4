"""``make lint-imports``: the architecture, checked by import-linter.

The contracts are built here from the one list of services (``service_kit.platform.SERVICES``), so
a new service is held to them the moment it is listed, with nothing to copy by hand:

- a service imports no other service (it talks to them over HTTP or the broker);
- the kit imports no service and not this tooling (it is what every service installs);
- services, and their tests, import the kit's public names only: a package's ``__init__`` says
  what it offers (``service_kit/__init__.py`` lists the public modules);
- inside each app the entry points (routes, views, the admin, message handlers, tasks, commands,
  signal receivers) call services and selectors; services write and selectors read, both over the
  models; never the other way round (a layer an app does not have is skipped);
- no import cycles among the modules of any package.

A service's packages are its Django project and its apps: the packages in its folder but
``tests``. The tests are checked one service at a time (every suite is a package named ``tests``:
seven would collide in one graph).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from service_kit.platform import SERVICES, Service

#: What a service may not import from the kit: a module inside a package, or the kit's own
#: machinery (the modules Django loads by itself by their dotted paths in settings).
KIT_PRIVATE = [
    "service_kit.*.*",
    "service_kit.admin",
    "service_kit.apps",
    "service_kit.checks",
    "service_kit.management",
    "service_kit.migrations",
]
LAYERS = [
    "(urls)",
    "(views) | (admin) | (handlers) | (tasks) | (management) | (signals)",
    "(serializers) | (forms) | (filters)",
    "(services)",
    "(selectors)",
    "(models)",
]


def packages(service: Service) -> list[str]:
    """The service's project package and its apps."""
    return sorted(
        p.name for p in service.path.iterdir() if (p / "__init__.py").exists() and p.name != "tests"
    )


def public_names(name: str, sources: list[str]) -> dict:
    return {
        "name": name,
        "type": "forbidden",
        "source_modules": sources,
        "forbidden_modules": KIT_PRIVATE,
        "allow_indirect_imports": True,
    }


def code_contracts(services: list[Service]) -> dict:
    """The contracts over every service's code, the kit and the tooling, in one graph."""
    own = {service.folder: packages(service) for service in services}
    every = sorted(p for names in own.values() for p in names)
    apps = sorted(set(every) - {service.project for service in services})
    contracts = [
        {
            "name": f"{folder} imports no other service",
            "type": "forbidden",
            "source_modules": names,
            "forbidden_modules": [p for p in every if p not in names],
        }
        for folder, names in own.items()
    ]
    contracts += [
        {
            "name": "The kit imports no service and no tooling",
            "type": "forbidden",
            "source_modules": ["service_kit"],
            "forbidden_modules": ["platform_tools", *every],
        },
        public_names("Services import the kit's public names only", every),
        {
            "name": "Apps are layered: views, services, selectors, models",
            "type": "layers",
            "containers": apps,
            "layers": LAYERS,
        },
        {
            "name": "No import cycles",
            "type": "acyclic_siblings",
            "ancestors": ["service_kit", "platform_tools", *every],
        },
    ]
    return {"root_packages": ["service_kit", "platform_tools", *every], "contracts": contracts}


def tests_contracts() -> dict:
    return {
        "root_packages": ["tests", "service_kit"],
        "contracts": [public_names("Tests import the kit's public names only", ["tests"])],
    }


def lint_imports(config: dict, path: list[Path], label: str) -> bool:
    """One run of lint-imports over ``config`` (written as TOML), ``path`` on PYTHONPATH."""
    with tempfile.TemporaryDirectory(prefix="platform-imports-") as scratch:
        file = Path(scratch) / "importlinter.toml"
        file.write_text(toml({"tool": {"importlinter": config}}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
        result = subprocess.run(  # noqa: S603 - this interpreter's lint-imports, argv built here
            [Path(sys.executable).with_name("lint-imports"), "--no-cache", "--config", file],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        print(result.stdout + result.stderr)
        print(f"FAIL import contracts: {label}", flush=True)
        return False
    print(f"ok   import contracts: {label}", flush=True)
    return True


def toml(data: dict, prefix: str = "") -> str:
    """The little TOML the configuration needs: tables, arrays of tables, strings, lists, bools
    (JSON's quoting is valid TOML for these)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(f"\n[{prefix}{key}]\n" + toml(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            tables += [f"\n[[{prefix}{key}]]\n" + toml(item, f"{prefix}{key}.") for item in value]
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n" + "".join(tables)


def main(services: list[Service] = SERVICES) -> int:
    ok = lint_imports(
        code_contracts(services), [s.path for s in services], "the services, the kit, the tooling"
    )
    for service in services:
        ok &= lint_imports(tests_contracts(), [service.path], f"{service.folder}/tests")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
