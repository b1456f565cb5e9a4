from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

import psycopg
import pytest

from service_kit.platform import Service
from service_kit.testing.processes import wait_for  # noqa: F401 - the suite imports it from here

KIT_TESTS = Path(__file__).resolve().parent


def kit_service(name: str) -> Service:
    """The kit's test project run as service ``name`` (its own queues and database)."""
    return Service(name, KIT_TESTS.name, 8090, base=KIT_TESTS.parent, package="kitproject")


def kit_env(name: str, consumes: str = "note.created", **extra: str) -> dict[str, str]:
    return {"KIT_SERVICE_NAME": name, "KIT_CONSUMES": consumes, **extra}


def query(harness, service: Service, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows from one service's own database, read as an outsider (the test) would."""
    if harness.profile == "real":
        with psycopg.connect(harness.database_for(service), autocommit=True) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()
    path = harness.folder / "data" / f"{service.name}.sqlite3"
    with sqlite3.connect(path, timeout=20) as conn:
        return conn.execute(sql, params).fetchall()


def execute(harness, service: Service, sql: str, params: tuple = ()) -> None:
    if harness.profile == "real":
        with psycopg.connect(harness.database_for(service), autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
        return
    with sqlite3.connect(harness.folder / "data" / f"{service.name}.sqlite3", timeout=20) as conn:
        conn.execute(sql, params)


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 10.0):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


@pytest.fixture
def seen():
    def count(harness, service, note_id=None):
        if note_id is None:
            return query(harness, service, "SELECT count(*) FROM notes_noteseen")[0][0]
        return query(
            harness,
            service,
            "SELECT count(*) FROM notes_noteseen WHERE note_id = ?",
            (note_id if harness.profile == "real" else note_id.replace("-", ""),),
        )[0][0]

    return count


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` in a file (the delivery tests break copies of the artifacts with it)."""
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))
