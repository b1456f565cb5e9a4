"""order_service's database restarted, then out of connections: clear 503s, then recovery.

order_service runs on a PostgreSQL cluster of the test's own (as a plain login role, like a
service in production). While the server is stopped, and while every connection slot it has is
taken by someone else, the API answers 503 ``service_unavailable`` in the contract's JSON within
the pool's timeout, and ``/readyz`` names the database; once the server takes connections again,
the same process serves again, without a restart.
"""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest
from platform_helpers import (
    AUTH,
    ORDER,
    TIMERS,
    customer_token,
    stop,
)

from platform_tools.testing import backing
from platform_tools.testing.client import call
from platform_tools.testing.faults import PostgresCluster
from platform_tools.testing.processes import Harness, wait_for

#: The pool waits this long for a connection before the request gives up.
POOL_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    backing.skip_unless(
        PostgresCluster.available(), "no PostgreSQL server programs for a private cluster"
    )
    cluster = PostgresCluster(max_connections=12).start()
    harness = Harness(
        tmp_path_factory.mktemp("database"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        order = harness.start_web(
            ORDER,
            # as a plain role: the superuser's reserved slots are not the service's
            DATABASE_URL=cluster.create_database("orders", owner="order_app"),
            DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
            DB_CONNECT_TIMEOUT="2",
            JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json",
            **TIMERS,
        )
        yield {"cluster": cluster, "auth": auth, "order": order}
    finally:
        stop(harness)
        cluster.destroy()


def assert_unavailable(platform, token: str) -> None:
    """The API and readiness say 503, in JSON, within the pool's timeout (plus slack)."""
    order = platform["order"]
    for path in ("/api/v1/orders/", "/api/v1/orders/00000000-0000-0000-0000-000000000000/"):
        started = time.monotonic()
        status, body = call("GET", f"{order.url}{path}", token)
        took = time.monotonic() - started
        assert status == 503, (path, status, body)
        assert body["error"]["code"] == "service_unavailable", body
        assert took < POOL_TIMEOUT + 5, took
    status, ready = call("GET", f"{order.url}/readyz")
    assert status == 503 and "database" in ready["failed"], ready


def assert_serving(platform, token: str) -> None:
    order = platform["order"]
    wait_for(
        lambda: call("GET", f"{order.url}/api/v1/orders/", token)[0] == 200,
        timeout=60,
        interval=0.5,
        what="order_service to serve again",
    )
    wait_for(lambda: call("GET", f"{order.url}/readyz")[0] == 200, timeout=30, what="ready")
    assert order.alive()


def test_a_restarted_database_gives_503s_then_the_service_recovers(platform):
    order, cluster = platform["order"], platform["cluster"]
    token = customer_token(platform["auth"])
    assert call("GET", f"{order.url}/api/v1/orders/", token)[0] == 200
    pid = order.popen.pid

    cluster.stop()
    try:
        assert_unavailable(platform, token)
    finally:
        cluster.start()
    assert_serving(platform, token)
    assert order.popen.pid == pid  # the same process: no restart needed


def test_exhausted_connections_give_503s_then_the_service_recovers(platform):
    order, cluster = platform["order"], platform["cluster"]
    token = customer_token(platform["auth"])
    assert call("GET", f"{order.url}/api/v1/orders/", token)[0] == 200

    with contextlib.ExitStack() as hogs:
        # Someone else takes every slot: end the service's own sessions (its pool must make new
        # ones) and take each slot they free, until none is left and the service has none.
        hog = cluster.create_role("hog")
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "could not take every connection slot"
            cluster.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'order_app'"
            )
            try:
                while True:
                    hogs.enter_context(psycopg.connect(hog, connect_timeout=5))
            except psycopg.OperationalError as exc:
                assert "too many clients" in str(exc) or "remaining connection slots" in str(exc), (
                    exc
                )
            left = cluster.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'order_app'"
            )[0][0]
            if left == 0:
                break
        assert_unavailable(platform, token)
    assert_serving(platform, token)
