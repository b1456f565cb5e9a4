"""Never oversold: concurrent orders for the last units, on PostgreSQL (threads, each on its own
connection and transaction) and on SQLite (separate processes on one database file)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pytest
from django.db import connection
from stock.handlers import on_reserve
from stock.models import Reservation, StockItem

from platform_tools.testing.api import at_once
from platform_tools.testing.backing import skip_unless
from platform_tools.testing.processes import Harness, wait_for
from service_kit.messaging import relay
from service_kit.platform import BY_NAME

from .factories import StockItemFactory
from .helpers import envelope, published

ORDERS = 100
UNITS = 20


def reserve_message(order_id: str, *lines: tuple[str, int]) -> dict:
    return envelope(
        "inventory.reserve",
        order_id=order_id,
        lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    )


def require_postgresql() -> None:
    # The embedded run's SQLite test database lives in memory with a shared cache, whose table
    # locks fail at once instead of waiting: SQLite is proven with processes on a file below.
    skip_unless(
        connection.vendor == "postgresql",
        "threads on PostgreSQL only; SQLite: the separate processes test",
    )


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_orders_for_20_units_on_postgresql_reserve_exactly_20():
    require_postgresql()
    StockItemFactory(sku="HOT", on_hand=UNITS, low_stock_threshold=0)
    messages = [reserve_message(str(uuid.uuid4()), ("HOT", 1)) for _ in range(ORDERS)]
    done = threading.Event()
    peaks: list[tuple[int, int]] = []

    def watch() -> None:
        # What a reader sees while the orders run: reserved never above on hand.
        while not done.is_set():
            peaks.append(StockItem.objects.values_list("on_hand", "reserved").get(sku="HOT"))
            done.wait(0.002)  # the next sample, or the end as soon as it comes
        connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = at_once(lambda message: on_reserve.apply(args=[message]).get(), messages)
    finally:
        done.set()
        watcher.join(10)
    relay.flush()

    assert results == ["applied"] * ORDERS
    item = StockItem.objects.get(sku="HOT")
    assert (item.on_hand, item.reserved) == (UNITS, UNITS)
    states = sorted(Reservation.objects.values_list("state", flat=True))
    assert states == ["REJECTED"] * (ORDERS - UNITS) + ["RESERVED"] * UNITS
    answers = [t for t, _ in published("inventory.reserved", "inventory.rejected")]
    assert sorted(answers) == ["inventory.rejected"] * 80 + ["inventory.reserved"] * 20
    assert peaks and all(reserved <= on_hand for on_hand, reserved in peaks)


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_with_a_short_line_reserve_nothing_of_their_other_lines():
    require_postgresql()
    StockItemFactory(sku="PLENTY", on_hand=1000, low_stock_threshold=0)
    StockItemFactory(sku="SCARCE", on_hand=5, low_stock_threshold=0)
    messages = [reserve_message(str(uuid.uuid4()), ("PLENTY", 3), ("SCARCE", 1)) for _ in range(30)]
    at_once(lambda message: on_reserve.apply(args=[message]).get(), messages)
    relay.flush()

    stock = dict(StockItem.objects.values_list("sku", "reserved"))
    assert stock == {"PLENTY": 5 * 3, "SCARCE": 5}
    assert Reservation.objects.filter(state="RESERVED").count() == 5
    assert Reservation.objects.filter(state="REJECTED").count() == 25


#: Run in inventory_service's shell by each process: its share of the orders, all at once.
SQLITE_ORDERS = """
import json, os, pathlib, time, uuid
from stock.services import reservation_reserve
from service_kit.messaging import relay
orders = [uuid.UUID(o) for o in os.environ["TEST_ORDERS"].split(",")]
gate = pathlib.Path(os.environ["TEST_GATE"])
(gate / f"ready-{os.getpid()}").touch()
from platform_tools.testing.processes import wait_for
wait_for(lambda: (gate / "go").exists(), 60, interval=0.002, what="go")
states = [
    reservation_reserve(order_id=o, lines=[{"sku": "HOT", "quantity": 1}]).state for o in orders
]
relay.flush()
print(json.dumps(states))
"""


def test_100_concurrent_orders_for_20_units_on_sqlite_from_separate_processes(harness_factory):
    harness: Harness = harness_factory("embedded")
    inventory = BY_NAME["inventory"]
    harness.migrate(inventory)
    _shell(
        harness,
        "from stock.models import StockItem\n"
        f"StockItem.objects.create(sku='HOT', on_hand={UNITS}, low_stock_threshold=0)",
    )
    orders = [str(uuid.uuid4()) for _ in range(ORDERS)]
    processes = 4
    gate = harness.folder / "gate"
    gate.mkdir()
    shares = [orders[i::processes] for i in range(processes)]
    running = [
        subprocess.Popen(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", "shell", "-c", SQLITE_ORDERS],
            cwd=inventory.path,
            env=harness.env_for(inventory, TEST_ORDERS=",".join(share), TEST_GATE=str(gate)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]

    def all_ready() -> bool:  # all set up, none started
        assert all(p.poll() is None for p in running), [p.communicate() for p in running]
        return len(list(gate.glob("ready-*"))) >= processes

    wait_for(all_ready, 60, interval=0.05, what="the processes to get ready")
    (gate / "go").touch()
    states = []
    for process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-3000:]
        states += json.loads(out.strip().splitlines()[-1])

    assert sorted(states) == ["REJECTED"] * (ORDERS - UNITS) + ["RESERVED"] * UNITS
    rows = _query(harness, "SELECT on_hand, reserved FROM stock_stockitem WHERE sku = 'HOT'")
    assert rows == [(UNITS, UNITS)]
    counts = _query(
        harness, "SELECT state, count(*) FROM stock_reservation GROUP BY state ORDER BY state"
    )
    assert counts == [("REJECTED", ORDERS - UNITS), ("RESERVED", UNITS)]


def _shell(harness: Harness, code: str) -> str:
    inventory = BY_NAME["inventory"]
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=inventory.path,
        env=harness.env_for(inventory),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _query(harness: Harness, sql: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(harness.folder / "data" / "inventory.sqlite3", timeout=20) as conn:
        return conn.execute(sql).fetchall()
