from __future__ import annotations

import sys
import time

from service_kit.conf import REPO_ROOT

from . import VALIDATORS, validator


def main(argv: list[str]) -> int:
    failures = 0
    for name in argv or VALIDATORS:
        started = time.monotonic()
        problems = validator(name).check(REPO_ROOT)
        seconds = time.monotonic() - started
        print(f"{'ok  ' if not problems else 'FAIL'} {name:<14} {seconds:5.1f} s", flush=True)
        for problem in problems:
            print(f"     - {problem}")
        failures += bool(problems)
    print(f"\ndelivery: {failures} failing validator(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
