"""Benchmarks (``make bench``), run side by side against real processes started by the harness.

``python -m service_kit.bench`` runs every registered benchmark in one run and writes
``reports/bench.md``, ``reports/bench.json`` and ``reports/bench_<slug>.png``.

Settings from the environment: ``BENCH_DURATION`` (seconds per run, default 5) and
``BENCH_WARMUP`` (default 1), both whole seconds for wrk; ``BENCH_ROUNDS`` (interleaved rounds of
the WSGI benchmark, default 2); ``BENCH_ONLY`` (comma-separated benchmark slugs or names);
``BENCH_PROFILE`` (``real`` or ``embedded``; default: real when PostgreSQL, Redis and RabbitMQ
answer on loopback); ``BENCH_REPORTS`` (default ``reports/``).
Never part of ``make test``.
"""

from .runner import BENCHMARKS, Benchmark, Context, register

__all__ = ["BENCHMARKS", "Benchmark", "Context", "main", "register"]


def main() -> int:
    from . import (  # noqa: F401  (registers each benchmark, in report order)
        catalogue,
        footprint,
        gateway,
        identity,
        reservations,
        runner,
        saga,
        server_choice,
        services,
    )

    return runner.main()
