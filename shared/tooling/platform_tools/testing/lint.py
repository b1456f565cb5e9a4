"""``make lint`` (after ruff and the import contracts): every link and reference in the
repository leads somewhere in it (:mod:`.doclinks`); per project, migrations up to date and
backward compatible, and Django's system checks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES, Service

from . import doclinks

KIT_PROJECT = Service("kit", "tests", 0, base=REPO_ROOT / "shared", package="kitproject")


def run(service: Service, *args: str, env: dict[str, str]) -> bool:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", *args],
        cwd=service.path,
        env=env,
        capture_output=True,
        text=True,
    )
    ok = result.returncode == 0
    print(f"{'ok  ' if ok else 'FAIL'} {service.folder:<18} {' '.join(args)}", flush=True)
    if not ok:
        print(result.stdout[-4000:] + result.stderr[-4000:])
    return ok


def main() -> int:
    failures = len(doclinks.report())
    with tempfile.TemporaryDirectory(prefix="platform-lint-") as data:
        env = {**os.environ, "PLATFORM_DATA_DIR": data, "MIGRATION_LINTER": "1"}
        for key in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)  # the checks read the code, not a running platform
        for service in [*SERVICES, KIT_PROJECT]:
            for args in (
                ("check", "--fail-level", "WARNING"),
                ("makemigrations", "--check", "--dry-run"),
                ("lintmigrations", "--warnings-as-errors"),
            ):
                failures += not run(service, *args, env=env)
    print(f"\nlint: {failures} failing check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
