from __future__ import annotations

import pytest


@pytest.fixture
def seen():
    """How many notes a consumer of the kit's test project has seen (``note_id``: that one)."""

    def count(harness, service, note_id=None):
        if note_id is None:
            return harness.query(service, "SELECT count(*) FROM notes_noteseen")[0][0]
        return harness.query(
            service,
            "SELECT count(*) FROM notes_noteseen WHERE note_id = ?",
            (note_id if harness.profile == "real" else note_id.replace("-", ""),),
        )[0][0]

    return count
