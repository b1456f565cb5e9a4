"""Benchmark 2: the production WSGI server, chosen by measurement.

product_service's product list (50 products, one page of 20) under granian and gunicorn on the same
database, measured one configuration at a time in interleaved rounds (``BENCH_ROUNDS``, default 2).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from platform_tools.testing.processes import Harness, Proc, free_port
from service_kit.platform import BY_NAME, Service

from .loadgen import Load
from .report import bars
from .runner import Context, Row, register
from .services import exists, seed_products

PATH = "/api/v1/products/"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


@dataclass(frozen=True)
class Config:
    server: str  # "granian", or gunicorn's worker class: "gthread", "sync"
    workers: int
    threads: int

    @property
    def label(self) -> str:
        name = "granian" if self.server == "granian" else f"gunicorn {self.server}"
        return f"{name} {self.workers}x{self.threads}"


CONFIGS = [
    Config("granian", 1, 4),
    Config("granian", 2, 4),
    Config("gthread", 2, 4),
    Config("sync", 4, 1),
]


def start_gunicorn(harness: Harness, service: Service, config: Config) -> Proc:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-b",
        f"127.0.0.1:{port}",
        "-k",
        config.server,
        "-w",
        str(config.workers),
        "--threads",
        str(config.threads),
        "--log-level",
        "warning",
        f"{service.project}.wsgi:application",
    ]
    log = harness.folder / "logs" / f"{service.name}.gunicorn-{config.server}.log"
    proc = Proc(
        f"{service.name}.gunicorn", command, service.path, harness.env_for(service), log, port=port
    ).start()
    harness.procs.append(proc)  # so that the harness stops it whatever happens
    return proc.wait_http()


def start(harness: Harness, service: Service, config: Config) -> Proc:
    if config.server == "granian":
        return harness.start_web(
            service, migrate=False, workers=config.workers, threads=config.threads
        )
    return start_gunicorn(harness, service, config)


def plot(rows: list[Row], path: Path) -> None:
    labels = [row["server"] for row in rows]
    panels = {
        "requests/s at c=8 (higher is better)": {"c=8": [r["req/s (c=8)"] for r in rows]},
        "p50 latency at c=1, ms (lower is better)": {"c=1": [r["p50 ms (c=1)"] for r in rows]},
    }
    bars(path, labels, panels, f"WSGI server choice: product_service GET {PATH}")


def summary_row(config: Config, runs: list[dict[int, Load]]) -> Row:
    """The best of the rounds (the one least disturbed by other load), and every round's req/s."""
    return {
        "server": config.label,
        "req/s (c=8)": max(r[8].rps for r in runs),
        "x best req/s": math.nan,
        "p50 ms (c=1)": min(r[1].p50_ms for r in runs),
        "x best p50": math.nan,
        "p99 ms (c=1)": min(r[1].p99_ms for r in runs),
        "p99 ms (c=8)": min(r[8].p99_ms for r in runs),
        "req/s per round": " / ".join(f"{r[8].rps:.0f}" for r in runs),
        "errors": sum(load.errors + load.non_2xx for r in runs for load in r.values()),
    }


@register("WSGI server choice", slug="wsgi", plot=plot)
def server_choice(context: Context) -> list[Row]:
    harness, service = context.harness, BY_NAME["product"]
    if not exists(service):
        context.note("product_service is not on disk: nothing to measure")
        return []
    harness.migrate(service)
    seeded = seed_products(harness, service)
    # Every server runs at once (idle ones cost next to nothing) and the rounds interleave them,
    # so that a slow spell of the machine does not fall on one configuration only.
    procs = {config: start(harness, service, config) for config in CONFIGS}
    rounds: dict[Config, list[dict[int, Load]]] = {config: [] for config in CONFIGS}
    for number in range(ROUNDS):
        for config, proc in procs.items():
            rounds[config].append(context.measure(proc.url + PATH, warm_up=number == 0))
    rows = [summary_row(config, runs) for config, runs in rounds.items()]
    best_rps = max(row["req/s (c=8)"] for row in rows)
    best_p50 = min(row["p50 ms (c=1)"] for row in rows)
    for row in rows:
        row["x best req/s"] = row["req/s (c=8)"] / best_rps
        row["x best p50"] = row["p50 ms (c=1)"] / best_p50
    fastest = max(rows, key=lambda r: r["req/s (c=8)"])
    quickest = min(rows, key=lambda r: r["p50 ms (c=1)"])
    runner_up = sorted(rows, key=lambda r: -r["req/s (c=8)"])[1] if len(rows) > 1 else fastest
    context.note(
        f"Throughput winner: {fastest['server']} ({fastest['req/s (c=8)']:.0f} req/s, "
        f"{fastest['req/s (c=8)'] / runner_up['req/s (c=8)']:.2f}x the next, "
        f"{runner_up['server']}); lowest p50 at c=1: {quickest['server']} "
        f"({quickest['p50 ms (c=1)']:.2f} ms)."
    )
    context.note(
        f"{seeded} seeded products, same database for every configuration. Best of {ROUNDS} "
        "interleaved rounds (highest req/s, lowest latencies): the machine is shared, and the "
        "best round is the least disturbed; 'req/s per round' shows the spread. "
        "'x best p50' is p50 divided by the lowest p50 (1.00 is best)."
    )
    return rows
