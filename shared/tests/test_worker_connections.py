"""A Celery worker's threads keep their PostgreSQL connection from task to task, where a web
process takes one from its pool per request (service_kit.messaging.signals.keep_connections)."""

from __future__ import annotations

import copy

import pytest
from django.db import connections
from django.db.utils import ConnectionHandler

from service_kit.messaging.signals import keep_connections

POOLED = {
    "ENGINE": "django_prometheus.db.backends.postgresql",
    "NAME": "orders",
    "CONN_MAX_AGE": 0,
    "CONN_HEALTH_CHECKS": True,
    "OPTIONS": {"pool": {"min_size": 1, "max_size": 10}, "connect_timeout": 5},
}


def test_a_worker_drops_the_pool_and_keeps_the_rest():
    database = copy.deepcopy(POOLED)
    keep_connections(database, 300)
    assert database["OPTIONS"] == {"connect_timeout": 5}
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (300, True)


@pytest.mark.parametrize(
    ("database", "age"),
    [
        (POOLED, 0),  # DB_WORKER_CONN_MAX_AGE=0: the pool, as in the web process
        ({"ENGINE": "django.db.backends.sqlite3", "NAME": "x", "OPTIONS": {"timeout": 20}}, 300),
    ],
)
def test_otherwise_nothing_changes(database, age):
    changed = copy.deepcopy(database)
    keep_connections(changed, age)
    assert changed == database


def _between_tasks(connection) -> None:
    """What Celery's Django fix-up does before and after each task."""
    connection.close_if_unusable_or_obsolete()


@pytest.mark.django_db
def test_on_postgresql_the_same_connection_serves_one_task_after_another():
    default = connections["default"].settings_dict
    if default["ENGINE"].rsplit(".", 1)[-1] != "postgresql":
        pytest.skip("the kit's suite runs on SQLite here (TEST_DATABASE=sqlite)")
    pooled, kept = copy.deepcopy(default), copy.deepcopy(default)
    pooled["OPTIONS"] = {**pooled.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 2}}
    pooled["CONN_MAX_AGE"] = 0
    kept["OPTIONS"] = dict(pooled["OPTIONS"])
    keep_connections(kept, 300)
    seen = {}
    for label, database in (("pool", pooled), ("kept", kept)):
        handler = ConnectionHandler({"default": database})
        connection = handler["default"]
        raw, held = [], []
        try:
            for _ in range(3):
                _between_tasks(connection)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    raw.append((connection.connection, cursor.fetchone()[0]))
                _between_tasks(connection)
                held.append(connection.connection is not None)
        finally:
            connection.close()
            if label == "pool":
                connection.close_pool()
        seen[label] = (raw, held)
    raw, held = seen["kept"]
    assert len({id(c) for c, _ in raw}) == len({pid for _, pid in raw}) == 1  # one connection
    assert held == [True, True, True]  # still held between tasks
    raw, held = seen["pool"]
    assert held == [False, False, False]  # the pool's: given back after each task
