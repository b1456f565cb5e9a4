"""``make lint``'s OpenAPI check: ``@redocly/cli lint`` (its recommended rules, with the few
turned off in docs/redocly.yaml, each with its reason) passes on every service's document and on
the gateway's merged one, all built offline by the gateway's ``manage.py openapi``.

    python -m platform_tools.testing.openapi            # lint them all
    python -m platform_tools.testing.openapi --keep DIR  # and keep the documents in DIR

Redocly comes from npm, pinned, installed once into ``var/tools/redocly`` (outside the sources).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from platform_tools.testing.tools import npm_folder
from service_kit.conf import REPO_ROOT

REDOCLY = ("@redocly/cli", "2.77.0")
REDOCLY_DIR = REPO_ROOT / "var" / "tools" / "redocly"
CONFIG = REPO_ROOT / "docs" / "redocly.yaml"
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def redocly() -> Path:
    """The pinned ``redocly`` program, installed with npm when it is missing or another version."""
    package, version = REDOCLY
    return npm_folder(REDOCLY_DIR, {package: version}) / "node_modules" / ".bin" / "redocly"


def build(folder: Path) -> list[Path]:
    """Every service's document and the merged ``platform.json`` into ``folder``."""
    subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [
            sys.executable,
            "manage.py",
            "openapi",
            "--output",
            str(folder / "platform.json"),
            "--services-dir",
            str(folder),
        ],
        cwd=REPO_ROOT / "gateway",
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        check=True,
    )
    return sorted(folder.glob("*.json"))


def lint(documents: list[Path]) -> int:
    """Failing documents (redocly's findings printed)."""
    program = redocly()
    failures = 0
    for document in documents:
        result = subprocess.run(  # noqa: S603 - the pinned program, argv built here
            [str(program), "lint", "--config", str(CONFIG), "--format", "codeframe", str(document)],
            env={**os.environ, **QUIET},
            capture_output=True,
            text=True,
            check=False,
        )
        ok = result.returncode == 0
        print(f"{'ok  ' if ok else 'FAIL'} redocly lint {document.name}", flush=True)
        if not ok:
            failures += 1
            print(result.stdout[-6000:] + result.stderr[-2000:])
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the documents here, and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="openapi-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        failures = lint(build(folder))
    print(f"\nopenapi: {failures} failing document(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
