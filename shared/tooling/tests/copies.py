"""The validators' tests break copies of the repository's artifacts and expect each breakage
reported: ``edit`` makes one breakage in a copied file."""

from __future__ import annotations

from pathlib import Path


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` in a file (failing the test if the file no longer holds it)."""
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))
