"""``make tools``: the Debian programs the validators, e2e and browser tests run, installed with
apt-get when they are missing (CI runs as root on a Debian machine; elsewhere install them by hand).

    python -m service_kit.testing.tools            # all of them
    python -m service_kit.testing.tools promtool   # only what these commands need
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

#: command → the Debian package that provides it
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "docker-compose": "docker-compose",
    "groovy": "groovy",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "node": "nodejs",  # the CRD schema validators of the chart (npm packages)
    "npm": "npm",
}


def missing(commands) -> list[str]:
    return sorted({PACKAGES[c] for c in commands if not shutil.which(c)})


def ensure(commands=PACKAGES) -> list[str]:
    """Installs the packages of the missing ``commands``; answers what is still missing."""
    packages = missing(commands)
    if packages and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print(f"tools: apt-get install {' '.join(packages)}", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)  # noqa: S607 - apt-get from PATH, argv from constants and the caller's package names
        subprocess.run(  # noqa: S603 - apt-get from PATH, argv from constants and the caller's package names
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],  # noqa: S607 - apt-get from PATH, argv from constants and the caller's package names
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    return missing(commands)


def main(argv: list[str]) -> int:
    still = ensure(argv or PACKAGES)
    if still:
        print(f"tools: not installed: {' '.join(still)} (apt-get install them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
