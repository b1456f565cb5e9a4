"""Validators of the delivery artifacts (images, compose, charts, observability, pipelines), each
run with the real tool that reads the artifact. ``make lint`` runs them all::

    python -m platform_tools.testing.delivery            # every validator
    python -m platform_tools.testing.delivery charts     # one

Each module has ``check(root: Path = REPO_ROOT) -> list[str]``: the problems found in the tree at
``root`` (empty when it is sound). Tests run them on broken copies to show that each can fail.
"""

from __future__ import annotations

import importlib

VALIDATORS = ("images", "compose", "charts", "observability", "pipelines")


def validator(name: str):
    return importlib.import_module(f"{__name__}.{name}")
