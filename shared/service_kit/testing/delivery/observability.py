"""Placeholder until the observability artifacts land: reports that they are missing."""

from __future__ import annotations

from pathlib import Path

from service_kit.conf import REPO_ROOT


def check(root: Path = REPO_ROOT) -> list[str]:
    return ["observability: not built yet"]
