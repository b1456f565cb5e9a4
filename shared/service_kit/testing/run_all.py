"""``make test``: every suite (the kit's, then each service's), each in its own pytest process.

A Django project per process is what pytest-django allows, so the suites run one after another;
their JUnit reports are added up into one closing line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

SUITES = [REPO_ROOT / "shared" / "tests", *(service.path for service in SERVICES)]
#: run only when named: ``make e2e`` boots the whole platform
ON_REQUEST = [REPO_ROOT / "shared" / "e2e"]


def counts(report: Path) -> dict[str, int]:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not report.exists():
        return totals
    for suite in ET.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    return totals


def main(argv: list[str]) -> int:
    named = {*argv, *(f"{a}/tests" for a in argv)}
    chosen = [
        p
        for p in [*SUITES, *ON_REQUEST]
        if (not argv and p in SUITES) or p.name in named or str(p.relative_to(REPO_ROOT)) in named
    ]
    results, failed_suites = [], []
    keep = os.environ.get("JUNIT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="platform-junit-") as scratch:
        folder = keep or scratch
        for suite in chosen:
            report = Path(folder) / f"{suite.name}.xml"
            started = time.monotonic()
            print(f"\n=== {suite.relative_to(REPO_ROOT)}", flush=True)
            code = subprocess.call(  # noqa: S603 - this interpreter, argv built here
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    f"--junitxml={report}",
                    *os.environ.get("PYTEST_ARGS", "").split(),
                ],
                cwd=suite,
            )
            result = counts(report)
            results.append((suite, result, time.monotonic() - started))
            if code not in (0,) or result["failures"] or result["errors"]:
                failed_suites.append(suite.relative_to(REPO_ROOT))
    total = {key: sum(r[key] for _, r, _ in results) for key in results[0][1]}
    print("\nsuite                          tests  failed  skipped  seconds")
    for suite, result, seconds in results:
        print(
            f"{suite.relative_to(REPO_ROOT)!s:<30} {result['tests']:>5}  "
            f"{result['failures'] + result['errors']:>6}  {result['skipped']:>7}  {seconds:>7.1f}"
        )
    if failed_suites:
        print("failing suites: " + ", ".join(map(str, failed_suites)))
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    failed = total["failures"] + total["errors"]
    print(f"\ntotal: {passed} passed, {failed} failed, {total['skipped']} skipped")
    return 1 if failed_suites or total["tests"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
