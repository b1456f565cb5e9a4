"""A saga worker killed with SIGKILL in the middle of a step, then started again.

Each test stops one worker inside a step's transaction, where a real crash would hit it: the
test holds a row lock the step needs (inventory's stock row, order_service's order row) and waits
until the worker's database session is blocked on it, or (payment_service) catches the charge
while the card network is answering and its payment row is locked. Then the worker's whole
process group gets SIGKILL. Its message was not acknowledged (acks late): RabbitMQ hands it out
again when the worker is back, its half-done transaction was rolled back, and every order ends
CONFIRMED with one reservation, one charge, one stock commit and one transition per step.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from platform_helpers import (
    INVENTORY,
    ORDER,
    PATIENT_TIMERS,
    PAYMENT,
    assert_each_done_once,
    customer_token,
    order_body,
    post_order,
    start_saga,
    stock,
    stop,
)

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness, wait_for

#: Each charge takes this long at the card network, inside the charge's transaction.
CHARGE_LATENCY = "1"
SKU = "KILL-MUG"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("kill"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        yield start_saga(
            harness,
            {SKU: 100},
            timers=PATIENT_TIMERS,
            payment={"PAYMENT_SANDBOX_LATENCY": CHARGE_LATENCY},
        )
    finally:
        stop(harness)


def sessions(platform, service, like: str, *, state: str = "%", waiting: bool = False) -> list:
    """Other sessions on the service's database running (or last ran) a statement ``LIKE``
    ``like``, in a state ``LIKE`` ``state``; ``waiting``: only those waiting for a lock."""
    return platform["harness"].query(
        service,
        "SELECT pid, state, wait_event_type, query FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query LIKE ? AND state LIKE ? AND (NOT ? OR wait_event_type = 'Lock')",
        (like, state, waiting),
    )


@contextlib.contextmanager
def row_locked(platform, service, sql: str, params: tuple):
    """Hold ``SELECT … FOR UPDATE`` on the rows of ``sql`` until the block ends."""
    with psycopg.connect(platform["harness"].database_for(service)) as conn:
        assert conn.execute(sql, params).fetchall(), "nothing to lock"
        try:
            yield
        finally:
            conn.rollback()


def kill_and_restart(platform, service) -> None:
    """SIGKILL the service's worker (its whole process group), then start a new one."""
    worker = platform["workers"][service.name]
    ready = worker.log.read_text(errors="replace").count(" ready.")
    worker.kill()
    assert worker.popen.returncode == -9, worker.popen.returncode
    fresh = platform["harness"].start_worker(
        service, wait=False, **platform["worker_env"][service.name]
    )
    wait_for(
        lambda: fresh.log.read_text(errors="replace").count(" ready.") > ready,
        timeout=90,
        what=f"{service.name}'s new worker to be ready",
    )
    platform["workers"][service.name] = fresh


def place_many(platform, count: int) -> list[tuple[str, dict]]:
    def one(_):
        token = customer_token(platform["auth"])
        status, _, order = post_order(platform, token, order_body(platform, SKU, "tok_visa"))
        assert status == 201, order
        return token, order

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_inventory_worker_killed_while_reserving(platform):
    before = stock(platform, SKU)
    with row_locked(
        platform, INVENTORY, "SELECT 1 FROM stock_stockitem WHERE sku = %s FOR UPDATE", (SKU,)
    ):
        placed = place_many(platform, 3)
        # Its reserve wrote the inbox record and the reservation, and waits for the stock row.
        wait_for(
            lambda: sessions(platform, INVENTORY, 'UPDATE "stock_stockitem"%', waiting=True),
            timeout=60,
            what="the inventory worker to be blocked inside a reserve",
        )
        kill_and_restart(platform, INVENTORY)
    assert_each_done_once(platform, SKU, placed, before)


def test_payment_worker_killed_while_charging(platform):
    before = stock(platform, SKU)
    placed = place_many(platform, 4)
    # The charge's transaction holds the new payment row while the card network answers.
    wait_for(
        lambda: sessions(
            platform, PAYMENT, '%"payments_payment"%FOR UPDATE%', state="idle in transaction"
        ),
        timeout=60,
        interval=0.05,
        what="the payment worker to be inside a charge",
    )
    kill_and_restart(platform, PAYMENT)
    assert_each_done_once(platform, SKU, placed, before)


def test_order_worker_killed_while_applying_an_answer(platform):
    before = stock(platform, SKU)
    harness = platform["harness"]
    # Inventory is held back until the new orders' rows are locked too; then its answers reach
    # order_service's worker, which waits for an order's row inside its transaction.
    stock_lock = psycopg.connect(harness.database_for(INVENTORY))
    order_lock = psycopg.connect(harness.database_for(ORDER))
    try:
        stock_lock.execute("SELECT 1 FROM stock_stockitem WHERE sku = %s FOR UPDATE", (SKU,))
        placed = place_many(platform, 3)
        ids = [order["id"] for _, order in placed]
        locked = order_lock.execute(
            "SELECT 1 FROM orders_order WHERE id::text = ANY(%s) FOR UPDATE", (ids,)
        )
        assert len(locked.fetchall()) == len(ids)
        stock_lock.rollback()
        wait_for(
            lambda: sessions(platform, ORDER, '%"orders_order"%FOR UPDATE%', waiting=True),
            timeout=60,
            what="the order worker to be blocked inside a saga step",
        )
        kill_and_restart(platform, ORDER)
    finally:
        for conn in (stock_lock, order_lock):
            conn.rollback()
            conn.close()
    assert_each_done_once(platform, SKU, placed, before)
