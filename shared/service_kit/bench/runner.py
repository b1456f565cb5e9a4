"""The registry of benchmarks and the run that takes them all, side by side, on one harness.

A benchmark is a function that gets a :class:`Context` (the harness, the load generator, the
durations) and returns rows: dicts whose keys are the report's column headers, values raw numbers
or text. Register one with ``@register("name", slug="file_stem", plot=...)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service_kit.conf import REPO_ROOT
from service_kit.testing import backing
from service_kit.testing.processes import Harness

from .loadgen import Load, LoadGenerator, load_generator

logger = logging.getLogger("service_kit.bench")

Row = dict[str, Any]
Plot = Callable[[list[Row], Path], None]


@dataclass(frozen=True)
class Benchmark:
    name: str
    slug: str
    run: Callable[[Context], list[Row]]
    plot: Plot | None = None


BENCHMARKS: list[Benchmark] = []


def register(name: str, *, slug: str, plot: Plot | None = None):
    def decorate(run: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        BENCHMARKS.append(Benchmark(name, slug, run, plot))
        return run

    return decorate


@dataclass
class Context:
    harness: Harness
    load: LoadGenerator
    duration: float
    warmup: float
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def measure(
        self,
        url: str,
        concurrency: tuple[int, ...] = (1, 8),
        *,
        warm_up: bool = True,
        headers: dict | None = None,
    ) -> dict[int, Load]:
        """A warm-up at the highest concurrency, then one run per concurrency."""
        if warm_up and self.warmup > 0:
            self.load.run(url, connections=max(concurrency), seconds=self.warmup, headers=headers)
        return {
            c: self.load.run(url, connections=c, seconds=self.duration, headers=headers)
            for c in concurrency
        }


@dataclass
class Result:
    benchmark: Benchmark
    rows: list[Row]
    notes: list[str]
    seconds: float
    error: str | None = None


def choose_profile() -> str:
    """``real`` when PostgreSQL, Redis and RabbitMQ answer on loopback (or BENCH_PROFILE says)."""
    forced = os.environ.get("BENCH_PROFILE")
    if forced:
        return forced
    return "real" if all(backing.reachable(name) for name in backing.URLS) else "embedded"


def selected() -> list[Benchmark]:
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    return [b for b in BENCHMARKS if not only or b.slug in only or b.name in only]


def _terminate(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds through the finally blocks that stop the processes


def main() -> int:
    from . import report

    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    duration = float(os.environ.get("BENCH_DURATION", "5"))
    warmup = float(os.environ.get("BENCH_WARMUP", "1"))
    reports = Path(os.environ.get("BENCH_REPORTS", REPO_ROOT / "reports"))
    profile = choose_profile()
    load_at_start = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    logger.info("profile %s, %ss per run, harness folder %s", profile, duration, folder)

    results: list[Result] = []
    harness = Harness(
        folder, profile=profile, broker_url=backing.create_vhost() if profile == "real" else None
    )
    try:
        load, load_note = load_generator(folder)
        logger.info("load generator: %s (%s)", load.version, load_note)
        for bench in selected():
            logger.info("running %s", bench.name)
            context = Context(harness, load, duration, warmup)
            started = time.monotonic()
            error = None
            rows: list[Row] = []
            try:
                rows = bench.run(context)
            except Exception as exc:
                logger.exception("%s failed", bench.name)
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            finally:
                harness.stop_all()
            results.append(Result(bench, rows, context.notes, time.monotonic() - started, error))
    finally:
        harness.cleanup()
        if profile == "real":
            with contextlib.suppress(Exception):
                backing.delete_vhost()
            with contextlib.suppress(Exception):
                backing.flush_cache_prefix()

    failed = any(r.error for r in results)
    if failed:
        logger.info("process logs kept in %s", folder / "logs")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    machine = report.machine_info(
        profile=profile,
        load=load,
        load_note=load_note,
        duration=duration,
        warmup=warmup,
        load_at_start=load_at_start,
    )
    print(report.write(results, machine, reports), flush=True)
    return 1 if failed else 0
