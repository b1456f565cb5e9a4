"""The baseline: a released version measured by the same benchmarks in the same ``make bench`` run.

``BASELINE`` names a git ref (default: the latest ``vX.Y.Z`` tag; ``none`` runs no baseline). Its
tree is exported (``git archive``) into ``var/bench-baseline/<commit>/src``, and its requirements
installed in a virtualenv beside it (``var/bench-baseline/venv-<digest>``, shared by the baselines
whose requirements are the same); both are kept, so the next run starts at once.
This checkout's benchmark package replaces the baseline's (``shared/tooling``), so both
sides are measured by the same code: the services, the kit and the requirements are the
baseline's. It runs after this checkout's benchmarks, one platform after the other (never side by
side, so neither takes the other's cores), with the same ``BENCH_*`` settings, and the report
shows both tables and their ratios (this checkout / the baseline).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

from service_kit.conf import REPO_ROOT

logger = logging.getLogger("platform_tools.bench")

FOLDER = REPO_ROOT / "var" / "bench-baseline"
TOOLING = Path("shared") / "tooling"


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - git with arguments built here
        ["git", *args],  # noqa: S607 - the developer's git
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def chosen() -> tuple[str, str] | None:
    """(ref, commit) of the baseline, or None when ``BASELINE=none`` or no release is tagged."""
    ref = os.environ.get("BASELINE", "").strip()
    if ref.lower() in {"none", "no", "0", "off"}:
        return None
    if not ref:
        tags = _git("tag", "--list", "v[0-9]*.[0-9]*.[0-9]*", "--sort=-v:refname").split()
        if not tags:
            return None
        ref = tags[0]
    return ref, _git("rev-parse", "--verify", f"{ref}^{{commit}}")


def prepare(commit: str) -> tuple[Path, Path]:
    """The baseline's tree with this checkout's tooling, and the interpreter to run it with."""
    src = FOLDER / commit / "src"
    if not (src / ".exported").exists():
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        archive = subprocess.run(  # noqa: S603 - git archive of a resolved commit
            ["git", "archive", "--format=tar", commit],  # noqa: S607
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)  # noqa: S603, S607
        (src / ".exported").touch()
    # This checkout's benchmarks (and their harness) measure the baseline's services.
    shutil.rmtree(src / TOOLING, ignore_errors=True)
    shutil.copytree(
        REPO_ROOT / TOOLING,
        src / TOOLING,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".mypy_cache"),
    )
    return src, interpreter(src)


def interpreter(src: Path) -> Path:
    """A virtualenv with the baseline's requirements (and the benchmarks' own pins), shared by
    every baseline with the same requirements (this checkout's own when they are the same); the
    kit and the tooling come from ``PYTHONPATH``."""
    mine, theirs = REPO_ROOT / "requirements", src / "requirements"
    if all((mine / f).read_text() == (theirs / f).read_text() for f in ("base.txt", "test.txt")):
        return Path(sys.executable)  # the same requirements: this checkout's own virtualenv
    wanted = (theirs / "test.txt").read_text().splitlines()
    pins = _tooling_pins()
    lock = "\n".join(
        [*(src / "requirements" / "base.txt").read_text().splitlines(), *wanted, *pins]
    )
    home = FOLDER / f"venv-{hashlib.sha256(lock.encode()).hexdigest()[:12]}"
    python = home / "bin" / "python"
    if not (home / ".installed").exists():
        logger.info("baseline: installing its requirements in %s (once)", home.name)
        shutil.rmtree(home, ignore_errors=True)
        venv.create(home, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(src / "requirements" / "test.txt"), *pins], check=True)  # noqa: S603
        (home / ".installed").touch()
    return python


def _tooling_pins() -> list[str]:
    """Pins the benchmarks need that the baseline may predate (py-spy)."""
    wanted = {"py-spy"}
    lines = (REPO_ROOT / "requirements" / "test.txt").read_text().splitlines()
    return [line for line in lines if line.split("==")[0].lower() in wanted]


def run(commit: str) -> dict[str, Any]:
    """Run the benchmarks on the baseline; its ``bench.json`` (reports under its folder)."""
    src, python = prepare(commit)
    reports = FOLDER / commit / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    env = {
        **os.environ,
        "BASELINE": "none",
        "BENCH_AS_BASELINE": "1",
        "BENCH_REPORTS": str(reports),
        "PYTHONPATH": os.pathsep.join(str(src / p) for p in ("shared", TOOLING)),
    }
    env.pop("VIRTUAL_ENV", None)
    logger.info("baseline %s: running the benchmarks", commit[:10])
    finished = subprocess.run(  # noqa: S603 - the baseline's interpreter, argv built here
        [str(python), "-m", "platform_tools.bench"], cwd=src, env=env, check=False
    )
    raw = reports / "bench.json"
    if not raw.exists():
        raise RuntimeError(f"the baseline's run wrote no report (exit {finished.returncode})")
    return json.loads(raw.read_text())


def keyed(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """Rows by their key: the first column, and the second when it is text (a service and its
    endpoint; a measure; an offered rate)."""
    found = {}
    for row in rows:
        values = list(row.values())
        key = tuple(values[:2]) if len(values) > 1 and isinstance(values[1], str) else (values[0],)
        found.setdefault(key, row)
    return found


def ratios(current: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each numeric cell of this checkout divided by the baseline's, row by row (matched by key)."""
    old = keyed(base)
    out = []
    for key, row in keyed(current).items():
        if key not in old:
            continue
        ratio: dict[str, Any] = dict(zip(list(row)[: len(key)], key, strict=True))
        for column, value in list(row.items())[len(key) :]:
            was = old[key].get(column)
            if _number(value) and _number(was) and was:
                ratio[column] = f"{value / was:.2f}x"
        if len(ratio) > len(key):
            out.append(ratio)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


if __name__ == "__main__":  # prepare only: python -m platform_tools.bench.baseline [REF]
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    if len(sys.argv) > 1:
        os.environ["BASELINE"] = sys.argv[1]
    picked = chosen()
    print(prepare(picked[1])[0] if picked else "no baseline")
