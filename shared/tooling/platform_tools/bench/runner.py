"""The registry of benchmarks, the context each runs in and the result it gives (the run that
takes them all, side by side on one harness, is the package's ``main``).

A benchmark is a function that gets a :class:`Context` (the harness, the load generator, the
durations) and returns rows: dicts whose keys are the report's column headers, values raw numbers
or text. Register one with ``@register("name", slug="file_stem", plot=...)``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness

from .loadgen import Load, LoadGenerator

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
    reports: Path = Path("reports")
    notes: list[str] = field(default_factory=list)
    #: More tables under the benchmark's own: (title, rows).
    sections: list[tuple[str, list[Row]]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def section(self, title: str, rows: list[Row]) -> None:
        self.sections.append((title, rows))

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
    sections: list[tuple[str, list[Row]]] = field(default_factory=list)


def choose_profile() -> str:
    """``real`` when PostgreSQL, Redis and RabbitMQ answer on loopback (or BENCH_PROFILE says)."""
    forced = os.environ.get("BENCH_PROFILE")
    if forced:
        return forced
    return "real" if all(backing.reachable(name) for name in backing.URLS) else "embedded"


def selected() -> list[Benchmark]:
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    return [b for b in BENCHMARKS if not only or b.slug in only or b.name in only]


def terminate(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds through the finally blocks that stop the processes
