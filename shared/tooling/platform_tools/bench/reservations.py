"""Benchmark: reservations per second — inventory_service's reserve (conditional ``UPDATE`` with
``F()``, the reservation row and its outbox answer, one transaction) on one hot SKU, where every
order waits for the same row lock, and spread over many SKUs, where they do not.

Measured in inventory_service's own process (``manage.py shell -c``, the harness's database):
threads calling the reserve service function, each on its own connection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service_kit.platform import BY_NAME

from .report import bars
from .runner import Context, Row, register
from .services import exists

SPREAD_SKUS = 100
THREADS = (1, 8)

#: Run in inventory_service's shell (the kit never imports a service's code).
CODE = """
import json, statistics, threading, time, uuid
from django.db import close_old_connections, connection, models
from service_kit.messaging.outbox import relay
from stock.models import Reservation, StockItem
from stock.services import reservation_reserve

DURATION, WARMUP, SPREAD = {duration}, {warmup}, {spread}
THREADS = {threads}
StockItem.objects.update_or_create(
    sku="BENCH-HOT", defaults={{"on_hand": 100_000_000, "reserved": 0, "low_stock_threshold": 0}}
)
spread = [f"BENCH-SPREAD-{{i:03d}}" for i in range(SPREAD)]
for sku in spread:
    StockItem.objects.update_or_create(
        sku=sku, defaults={{"on_hand": 10_000_000, "reserved": 0, "low_stock_threshold": 0}}
    )


def run(skus, threads, seconds):
    latencies, outcomes, stop = [], [], time.perf_counter() + seconds

    def work(n):
        close_old_connections()
        mine, i = [], n
        try:
            while time.perf_counter() < stop:
                sku = skus[i % len(skus)]
                i += threads
                started = time.perf_counter()
                state = reservation_reserve(
                    order_id=uuid.uuid4(), lines=[{{"sku": sku, "quantity": 1}}]
                ).state
                mine.append(time.perf_counter() - started)
                outcomes.append(state)
        finally:
            connection.close()
        latencies.extend(mine)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {{
        "reservations/s": len(latencies) / elapsed,
        "p50 ms": statistics.median(latencies) * 1000,
        "p99 ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "reserved": sum(1 for s in outcomes if s == "RESERVED"),
        "count": len(latencies),
    }}


results = []
for case, skus in (("one hot SKU", ["BENCH-HOT"]), (f"spread over {{SPREAD}} SKUs", spread)):
    for threads in THREADS:
        if WARMUP:
            run(skus, threads, WARMUP)
        result = run(skus, threads, DURATION)
        results.append({{"case": case, "threads": threads, **result}})
relay.flush(60)
rows = StockItem.objects.filter(sku__in=["BENCH-HOT", *spread])  # this benchmark's own SKUs
held = sum(rows.values_list("reserved", flat=True))
results.append({{
    "check": {{
        "reserved units": held,
        "reserved reservations": Reservation.objects.filter(state="RESERVED").count(),
        "oversold": rows.filter(reserved__gt=models.F("on_hand")).count(),
        "database": connection.vendor,
    }}
}})
print(json.dumps(results))
"""


def plot(rows: list[Row], path: Path) -> None:
    labels = [f"{r['case']}, {r['threads']} thread(s)" for r in rows]
    bars(
        path,
        labels,
        {
            "reservations/s (higher is better)": {"": [r["reservations/s"] for r in rows]},
            "p50 latency, ms (lower is better)": {"": [r["p50 ms"] for r in rows]},
        },
        "inventory_service reserve(): one hot SKU vs spread",
    )


@register("reservations per second", slug="reservations", plot=plot)
def reservations(context: Context) -> list[Row]:
    inventory = BY_NAME["inventory"]
    if not exists(inventory):
        context.note("inventory_service missing: skipped")
        return []
    harness = context.harness
    harness.migrate(inventory)
    code = CODE.format(
        duration=context.duration,
        warmup=context.warmup,
        spread=SPREAD_SKUS,
        threads=repr(THREADS),
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=inventory.path,
        # Room in the connection pool for every thread (and the outbox relay's).
        env=harness.env_for(inventory, DB_POOL_MAX_SIZE=str(max(THREADS) + 4)),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(
            f"inventory shell failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    check = measured.pop()["check"]
    if check["oversold"] or check["reserved units"] != check["reserved reservations"]:
        raise RuntimeError(f"stock does not add up after the benchmark: {check}")
    rows: list[Row] = [
        {
            "case": r["case"],
            "threads": r["threads"],
            "reservations/s": r["reservations/s"],
            "p50 ms": r["p50 ms"],
            "p99 ms": r["p99 ms"],
        }
        for r in measured
    ]
    context.note(
        f"reservation_reserve() in inventory_service's process on {check['database']} "
        f"({harness.profile} profile): one line of 1 unit per order, each a transaction with the "
        "conditional UPDATE, the reservation row and its outbox answer; the outbox relay thread "
        "publishes the answers meanwhile, in the same process. "
        f"Afterwards {check['reserved units']} units reserved = {check['reserved reservations']} "
        "reservations, none oversold."
    )
    return rows
