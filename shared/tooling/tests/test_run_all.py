"""``make test``'s runner: suites side by side, each with its own run id, its output whole, and
one table in the suites' order."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_tools.testing import run_all

#: Each suite's one test waits for the other's mark: both pass only when they run side by side.
MEETS = """\
import os
import time
from pathlib import Path


def test_meets_the_other_suite():
    here = Path(__file__).parent
    (here.parent / f"{here.name}.run").write_text(os.environ["PLATFORM_TEST_RUN"])
    other = here.parent / ("{other}.run")
    deadline = time.monotonic() + 60
    while not other.exists():
        assert time.monotonic() < deadline, "the other suite never ran meanwhile"
        time.sleep(0.05)
"""


@pytest.fixture
def suites(tmp_path, monkeypatch):
    """Two suites of one test each that only pass together, in place of the repository's."""
    made = {}
    for name, other in (("first", "second"), ("second", "first")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
        (folder / f"test_{name}.py").write_text(MEETS.replace("{other}", other))
        made[name] = folder
    monkeypatch.setattr(run_all, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(run_all, "SUITES", made)
    monkeypatch.setenv("PLATFORM_TEST_RUN", "meet")
    monkeypatch.delenv("JUNIT_DIR", raising=False)
    monkeypatch.delenv("PYTEST_ARGS", raising=False)
    return tmp_path


def test_two_suites_run_side_by_side_each_on_its_own_run(suites: Path, monkeypatch, capfd):
    monkeypatch.setenv("TEST_JOBS", "2")

    assert run_all.main([]) == 0

    out = capfd.readouterr().out
    assert (suites / "first.run").read_text() == "meet_first"
    assert (suites / "second.run").read_text() == "meet_second"
    # each suite's output in one piece, after its header
    table = out.index("\nsuite   ")
    for name in ("first", "second"):
        header = out.rindex(f"=== {name}\n")
        following = [at for at in (out.find("\n=== ", header), table) if at > header]
        assert "1 passed" in out[header : min(following)]
    table = out[table:]
    assert table.index("first ") < table.index("second ")
    assert "total: 2 passed, 0 failed, 0 skipped in " in table
    assert "(2 at a time)" in table


def test_a_failing_suite_fails_the_run_and_is_named(suites: Path, monkeypatch, capfd):
    """One at a time (its output as it comes), the first suite alone waits for the second in
    vain."""
    monkeypatch.setenv("TEST_JOBS", "1")
    monkeypatch.setattr(run_all, "SUITES", {"first": run_all.SUITES["first"]})
    (suites / "first" / "test_first.py").write_text(
        MEETS.replace("{other}", "second").replace("+ 60", "+ 1")
    )

    assert run_all.main([]) == 1

    out = capfd.readouterr().out
    assert "the other suite never ran meanwhile" in out
    assert "failing suites: first" in out


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_wrong_number_of_jobs_is_refused(monkeypatch, value):
    monkeypatch.setenv("TEST_JOBS", value)
    with pytest.raises(SystemExit, match="TEST_JOBS"):
        run_all.jobs()
