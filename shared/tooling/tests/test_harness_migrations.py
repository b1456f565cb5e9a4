"""The harness migrates a service's fresh database once a process for the same code and settings;
the next fresh one is a copy of it, the same as a migration makes, and a database that already
holds tables is migrated for real (never replaced)."""

from __future__ import annotations

import pytest
from kombu import Connection

from platform_tools.testing import backing, processes
from service_kit.platform import BY_NAME

PAYMENT = BY_NAME["payment"]
SCHEMA = (
    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema = 'public' ORDER BY table_name, column_name"
)
APPLIED = "SELECT app, name FROM django_migrations ORDER BY app, name"


@pytest.fixture
def harnesses(harness_factory):
    backing.require("postgres", "rabbitmq", "redis")
    return lambda **kwargs: harness_factory("real", **kwargs)


def what_migrate_made(harness) -> tuple[list, list]:
    return harness.query(PAYMENT, SCHEMA), harness.query(PAYMENT, APPLIED)


def test_a_second_fresh_database_is_a_copy_other_settings_are_migrated(harnesses):
    # settings of its own: this process has no template for them yet, so migrate runs for real
    first, second, other = harnesses(), harnesses(), harnesses()
    first.migrate(PAYMENT, PAYMENT_PROVIDER_TIMEOUT="7")
    templates = dict(processes._templates)

    second.migrate(PAYMENT, PAYMENT_PROVIDER_TIMEOUT="7")

    assert dict(processes._templates) == templates  # copied from the first, not made anew
    assert what_migrate_made(second) == what_migrate_made(first)
    assert what_migrate_made(first)[1]  # the migrations are recorded as applied

    other.migrate(PAYMENT, PAYMENT_PROVIDER_TIMEOUT="8")

    assert len(processes._templates) == len(templates) + 1  # migrated, and kept in turn
    assert what_migrate_made(other) == what_migrate_made(first)


def test_a_database_that_holds_tables_is_migrated_not_replaced(harnesses):
    harness = harnesses()
    harness.migrate(PAYMENT)
    harness.execute(
        PAYMENT,
        "INSERT INTO django_migrations (app, name, applied) VALUES ('kept', 'row', now())",
    )

    harness.migrate(PAYMENT)

    assert harness.query(PAYMENT, "SELECT name FROM django_migrations WHERE app = 'kept'") == [
        ("row",)
    ]


def test_two_harnesses_alive_at_once_keep_apart(harnesses):
    """A second platform booted beside the run's own (an end-to-end test's) has its own
    databases, vhost and cache keys, and its end leaves the first one's in place."""
    first, second = harnesses(broker_url=None), harnesses(broker_url=None)  # as a Stack makes them
    one, two = first.env_for(PAYMENT), second.env_for(PAYMENT)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX"):
        assert one[name] != two[name], name
    first.migrate(PAYMENT)
    second.migrate(PAYMENT)
    second.cleanup()
    assert what_migrate_made(first)[1]  # still there, still migrated
    assert backing.vhost_name(second.suffix) not in backing._vhosts_created
    assert backing.vhost_name(first.suffix) in backing._vhosts_created
    # the suffix is free again; a platform made with it later gets its broker users anew
    again = harnesses(broker_url=None)
    assert again.suffix == second.suffix
    url = again.env_for(PAYMENT)["CELERY_BROKER_URL"]
    assert url == two["CELERY_BROKER_URL"]
    with Connection(url, connect_timeout=10) as connection:
        connection.connect()  # payment's own user is let into the vhost made again
