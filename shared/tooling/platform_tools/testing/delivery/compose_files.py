"""Where the compose stack's files are, and what a service mounts from the repository (read by
:mod:`.compose` and :mod:`.telemetry`)."""

from __future__ import annotations

from pathlib import Path

COMPOSE_DIR = Path("compose")


def bind_mounts(root: Path, spec: dict) -> dict[str, Path]:
    """A service's bind mounts from the repository: container path → the repository's path
    (docker-compose gives them absolute; named volumes and host paths are left out)."""
    repository = root.resolve()
    mounts = {}
    for volume in spec.get("volumes") or ():
        if isinstance(volume, dict):
            source, target = str(volume.get("source", "")), str(volume.get("target", ""))
        else:
            parts = str(volume).split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else ""
        if not source.startswith((".", "/")):
            continue  # a named volume
        path = (root / COMPOSE_DIR / source).resolve()
        if path == repository or repository in path.parents:
            mounts[target] = path
    return mounts
