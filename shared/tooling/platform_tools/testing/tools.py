"""``make tools``: the Debian programs the validators, e2e and browser tests run, installed with
apt-get when they are missing (CI runs as root on a Debian machine; elsewhere install them by hand).

    python -m platform_tools.testing.tools            # all of them
    python -m platform_tools.testing.tools promtool   # only what these commands need
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
    # Logstash's redaction script (compose/logstash), run by its test against the kit's redaction
    "ruby": "ruby",
    # make images-check: a Docker engine (a docker client alone may already be on the PATH) and
    # the tool that makes the Debian base image
    "dockerd": "docker.io",
    "debootstrap": "debootstrap",
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


def npm_installed(folder: Path, package: str) -> str | None:
    """The version of ``package`` under ``folder``'s node_modules, if there is one."""
    try:
        manifest = folder / "node_modules" / package / "package.json"
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def npm_folder(folder: Path, packages: dict[str, str], *args: str, module: bool = False) -> Path:
    """``folder`` holding exactly these pinned npm ``packages`` (name → version), installed when
    one is missing or another version: aside, then moved in whole, so a stopped run leaves no half
    install. Raises RuntimeError when node and npm are missing or the install fails."""
    npm = shutil.which("npm")
    if not (npm and shutil.which("node")):
        raise RuntimeError("node and npm are needed (make tools)")
    if all(npm_installed(folder, name) == version for name, version in packages.items()):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=folder.parent))
    manifest = {"name": folder.name, "private": True, **({"type": "module"} if module else {})}
    (staging / "package.json").write_text(json.dumps(manifest))
    result = subprocess.run(  # noqa: S603 - npm found on PATH, pinned packages
        [
            npm,
            "install",
            "--prefix",
            str(staging),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            *args,
            *(f"{name}@{version}" for name, version in packages.items()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"npm install failed: {result.stderr.strip()[-1000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def main(argv: list[str]) -> int:
    still = ensure(argv or PACKAGES)
    if still:
        print(f"tools: not installed: {' '.join(still)} (apt-get install them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
