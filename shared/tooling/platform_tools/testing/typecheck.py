"""``make lint``: mypy with django-stubs, once per Django project.

django-stubs' plugin loads one settings module per run, and each service is its own project (its
apps are top-level packages, ``tests`` among them in every one), so there is one run per project:
the kit (strict, see ``[tool.mypy]`` in the root pyproject.toml) under the kit's test project,
then each service, in its folder under its own settings. Each run has its own cache folder under
``.mypy_cache/``, so a second lint only checks what changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

CONFIG = REPO_ROOT / "pyproject.toml"
CACHE = REPO_ROOT / ".mypy_cache"


def runs() -> list[tuple[str, Path, str, list[str]]]:
    """(name, folder to run in, settings module, what to check) for every project."""
    kit = (
        "service_kit",
        REPO_ROOT / "shared" / "tests",
        "kitproject.settings",
        ["-p", "service_kit"],
    )
    services = [
        (
            service.folder,
            service.path,
            f"{service.project}.settings",
            sorted(p.parent.name for p in service.path.glob("*/__init__.py")),
        )
        for service in SERVICES
    ]
    return [kit, *services]


def check(name: str, cwd: Path, settings: str, targets: list[str], env: dict[str, str]) -> bool:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(CONFIG),
            "--cache-dir",
            str(CACHE / name),
            *targets,
        ],
        cwd=cwd,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        capture_output=True,
        text=True,
    )
    ok = result.returncode == 0
    took = time.monotonic() - started
    print(f"{'ok  ' if ok else 'FAIL'} {name:<18} mypy ({took:.0f} s)", flush=True)
    if not ok:
        print(result.stdout[-8000:] + result.stderr[-4000:], flush=True)
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="platform-typecheck-") as data:
        # The plugin imports each project's settings: nothing of a running platform is read.
        env = {**os.environ, "PLATFORM_DATA_DIR": data}
        for key in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda run: check(*run, env=env), runs()))
    failures = results.count(False)
    print(f"\ntypecheck: {failures} failing project(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
