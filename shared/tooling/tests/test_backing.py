"""The database a test run uses is chosen, never guessed from what is listening."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from platform_tools.testing import backing


@pytest.fixture
def environment(monkeypatch):
    for name in ("CI", "REQUIRE_SERVICES", "TEST_DATABASE"):
        monkeypatch.delenv(name, raising=False)

    def set_to(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_to


@pytest.mark.parametrize(
    ("values", "database"),
    [
        ({}, "postgres"),
        ({"TEST_DATABASE": "sqlite"}, "sqlite"),
        ({"TEST_DATABASE": " Postgres "}, "postgres"),
        ({"CI": "true"}, "postgres"),
        ({"REQUIRE_SERVICES": "1"}, "postgres"),
        ({"CI": "false", "TEST_DATABASE": "sqlite"}, "sqlite"),
        ({"REQUIRE_SERVICES": "0", "TEST_DATABASE": "sqlite"}, "sqlite"),
    ],
)
def test_the_choice(environment, values, database):
    environment(**values)
    assert backing.test_database() == database


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"CI": "true", "TEST_DATABASE": "sqlite"}, "CI tests PostgreSQL"),
        ({"REQUIRE_SERVICES": "1", "TEST_DATABASE": "sqlite"}, "CI tests PostgreSQL"),
        ({"TEST_DATABASE": "mysql"}, "expected one of postgres, sqlite"),
    ],
)
def test_what_is_refused(environment, values, message):
    environment(**values)
    with pytest.raises(ValueError, match=message):
        backing.test_database()


def test_a_run_on_an_unreachable_postgres_stops_at_once(tmp_path):
    """The plugin refuses to start the run (no silent SQLite, no skip) and says what to do."""
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    env = {
        **os.environ,
        "TEST_DATABASE": "postgres",
        "TEST_POSTGRES_URL": "postgres://postgres@127.0.0.1:9",  # discard: nobody answers
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "postgres" in result.stderr and "TEST_DATABASE=sqlite" in result.stderr
