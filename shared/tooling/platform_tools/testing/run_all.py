"""``make test``: every suite, each in its own pytest process from its own folder.

The suites: ``kit`` (the runtime kit's unit tests, shared/tests, on the kit's test project),
``tooling`` (the delivery validators' tests, shared/tooling/tests), ``system`` (the platform's
services as real processes: saga, faults, identity, OWASP, fuzzing, smoke; shared/system_tests),
then each service's own. ``make test SUITES="kit order_service"`` runs some (a suite's folder,
``shared/tests``, names it too); ``e2e`` runs only when named.

A Django project per process is what pytest-django allows, so each suite is a process of its own;
``TEST_JOBS`` of them (2 by default; 1: one after another, output as it comes) run side by side,
the longest first, each with its own run id (database names, vhost, cache prefix) and its output
shown whole when it ends. Their JUnit reports (``<name>.xml``) are added up into one table, in
the suites' order, and one closing line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

SHARED = REPO_ROOT / "shared"
#: name → folder of every suite ``make test`` runs
SUITES: dict[str, Path] = {
    "kit": SHARED / "tests",
    "tooling": SHARED / "tooling" / "tests",
    "system": SHARED / "system_tests",
    **{service.path.name: service.path for service in SERVICES},
}
#: run only when named: ``make e2e`` boots the whole platform
ON_REQUEST: dict[str, Path] = {"e2e": SHARED / "e2e"}
#: started first when suites run side by side: the longest (minutes each), so that the short
#: ones fill the other slot instead of one long suite ending alone
LONGEST = ("system", "tooling", "kit")


def chosen(argv: list[str]) -> dict[str, Path]:
    """The suites ``argv`` names (by name or folder), all of ``SUITES`` when it names none."""
    if not argv:
        return dict(SUITES)
    known = {**SUITES, **ON_REQUEST}
    by_folder = {str(path.relative_to(REPO_ROOT)): name for name, path in known.items()}
    unknown = [arg for arg in argv if arg not in known and arg.rstrip("/") not in by_folder]
    if unknown:
        raise SystemExit(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(known)}")
    names = [arg if arg in known else by_folder[arg.rstrip("/")] for arg in argv]
    return {name: known[name] for name in dict.fromkeys(names)}


def counts(report: Path) -> dict[str, int]:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not report.exists():
        return totals
    for suite in ET.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    return totals


def jobs() -> int:
    value = os.environ.get("TEST_JOBS", "").strip() or "2"
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"TEST_JOBS={value!r}: expected a whole number >= 1")
    return int(value)


def run_suite(name: str, suite: Path, report: Path, *, alone: bool, lock: threading.Lock) -> int:
    """One suite's pytest process. ``alone``: its output goes straight to ours; otherwise it is
    kept in a file and shown whole when the suite ends (two suites' lines never interleave), and
    a run id named by the caller (``PLATFORM_TEST_RUN``) gets the suite's name, so that suites
    running side by side never share a database, vhost or cache prefix."""
    header = f"\n=== {suite.relative_to(REPO_ROOT)}"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        f"--junitxml={report}",
        *os.environ.get("PYTEST_ARGS", "").split(),
    ]
    if alone:
        print(header, flush=True)
        return subprocess.call(argv, cwd=suite)  # noqa: S603 - this interpreter, argv built here
    env = dict(os.environ)
    if env.get("PLATFORM_TEST_RUN"):
        env["PLATFORM_TEST_RUN"] = f"{env['PLATFORM_TEST_RUN']}_{name}"
    with lock:
        print(f"{header} started", flush=True)
    with tempfile.TemporaryFile() as output:
        code = subprocess.call(  # noqa: S603 - this interpreter, argv built here
            argv, cwd=suite, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        output.seek(0)
        with lock:
            print(header, flush=True)
            sys.stdout.buffer.write(output.read())
            sys.stdout.flush()
    return code


def main(argv: list[str]) -> int:
    suites = chosen(argv)
    began = time.monotonic()
    slots = min(jobs(), len(suites))
    keep = os.environ.get("JUNIT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="platform-junit-") as scratch:
        folder = Path(keep or scratch)

        def run(name: str) -> tuple[int, float]:
            started = time.monotonic()
            report = folder / f"{name}.xml"
            code = run_suite(name, suites[name], report, alone=slots == 1, lock=lock)
            return code, time.monotonic() - started

        order = list(suites)
        if slots > 1:
            order.sort(key=lambda n: LONGEST.index(n) if n in LONGEST else len(LONGEST))
        with ThreadPoolExecutor(max_workers=slots) as pool:
            futures = {name: pool.submit(run, name) for name in order}
        results, failed_suites = [], []
        for name in suites:
            code, seconds = futures[name].result()
            result = counts(folder / f"{name}.xml")
            results.append((name, result, seconds))
            if code not in (0,) or result["failures"] or result["errors"]:
                failed_suites.append(name)
    total = {key: sum(r[key] for _, r, _ in results) for key in results[0][1]}
    print("\nsuite                          tests  failed  skipped  seconds")
    for suite, result, seconds in results:
        print(
            f"{suite!s:<30} {result['tests']:>5}  "
            f"{result['failures'] + result['errors']:>6}  {result['skipped']:>7}  {seconds:>7.1f}"
        )
    if failed_suites:
        print("failing suites: " + ", ".join(failed_suites))
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    failed = total["failures"] + total["errors"]
    print(f"\ntotal: {passed} passed, {failed} failed, {total['skipped']} skipped", end="")
    print(f" in {time.monotonic() - began:.0f}s ({slots} at a time)")
    return 1 if failed_suites or total["tests"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
