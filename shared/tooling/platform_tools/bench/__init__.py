"""Benchmarks (``make bench``), run side by side against real processes started by the harness.

``python -m platform_tools.bench`` runs every registered benchmark in one run and writes
``reports/bench.md``, ``reports/bench.json`` and ``reports/bench_<slug>.png``.

Settings from the environment: ``BENCH_DURATION`` (seconds per run, default 5) and
``BENCH_WARMUP`` (default 1), both whole seconds for wrk; ``BENCH_ROUNDS`` (interleaved rounds of
the WSGI benchmark, default 2); ``BENCH_ONLY`` (comma-separated benchmark slugs or names);
``BENCH_PROFILE`` (``real`` or ``embedded``; default: real when PostgreSQL, Redis and RabbitMQ
answer on loopback); ``BENCH_REPORTS`` (default ``reports/``); ``BASELINE`` (a git ref measured
after this checkout by the same benchmarks, side by side in the report with the ratios; default
the latest ``vX.Y.Z`` tag, ``none`` for no baseline: see :mod:`.baseline`). Some benchmarks read
settings of their own (their module says which, e.g. :mod:`.saga`, :mod:`.restart`).
Never part of ``make test``.
"""

import contextlib
import importlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness
from service_kit.conf import REPO_ROOT

from . import baseline, report, runner
from .loadgen import load_generator
from .runner import BENCHMARKS, Benchmark, Context, register

logger = logging.getLogger("platform_tools.bench")

MODULES = (
    "catalogue",
    "footprint",
    "gateway",
    "identity",
    "reservations",
    "restart",
    "saga",
    "server_choice",
    "services",
    "tracing",
)
#: Set in the baseline's run (see .baseline).
AS_BASELINE = "BENCH_AS_BASELINE"

__all__ = ["BENCHMARKS", "Benchmark", "Context", "main", "register"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    for module in MODULES:  # each registers its benchmarks, in report order
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ImportError as exc:
            if not os.environ.get(AS_BASELINE):
                raise
            # A release older than a benchmark lacks what it measures: that section is not run.
            logger.warning("baseline: the %s benchmarks cannot run on it (%s)", module, exc)
    signal.signal(signal.SIGTERM, runner.terminate)
    duration = float(os.environ.get("BENCH_DURATION", "5"))
    warmup = float(os.environ.get("BENCH_WARMUP", "1"))
    reports = Path(os.environ.get("BENCH_REPORTS", REPO_ROOT / "reports"))
    profile = runner.choose_profile()
    load_at_start = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    logger.info("profile %s, %ss per run, harness folder %s", profile, duration, folder)

    results: list[runner.Result] = []
    harness = Harness(
        folder, profile=profile, broker_url=backing.create_vhost() if profile == "real" else None
    )
    try:
        load, load_note = load_generator(folder)
        logger.info("load generator: %s (%s)", load.version, load_note)
        for bench in runner.selected():
            logger.info("running %s", bench.name)
            context = runner.Context(harness, load, duration, warmup, reports)
            started = time.monotonic()
            error = None
            rows: list[runner.Row] = []
            try:
                rows = bench.run(context)
            except Exception as exc:
                logger.exception("%s failed", bench.name)
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            finally:
                harness.stop_all()
            results.append(
                runner.Result(
                    bench, rows, context.notes, time.monotonic() - started, error, context.sections
                )
            )
    finally:
        harness.cleanup()
        if profile == "real":
            with contextlib.suppress(Exception):
                backing.delete_vhost()
            with contextlib.suppress(Exception):
                backing.flush_cache_prefix()

    failed = any(r.error for r in results)
    if failed or os.environ.get("BENCH_KEEP_LOGS"):
        logger.info("process logs kept in %s", folder / "logs")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    base = _baseline()
    machine = report.machine_info(
        profile=profile,
        load=load,
        load_note=load_note,
        duration=duration,
        warmup=warmup,
        load_at_start=load_at_start,
    )
    print(report.write(results, machine, reports, base), flush=True)
    return 1 if failed else 0


def _baseline() -> report.Baseline | None:
    """The baseline's run (see :mod:`.baseline`), or None; its failure is reported, not raised."""
    picked = baseline.chosen()
    if picked is None:
        return None
    ref, commit = picked
    try:
        return report.Baseline(ref, commit, baseline.run(commit))
    except (OSError, RuntimeError, ValueError, subprocess.CalledProcessError) as exc:
        logger.exception("the baseline %s failed", ref)
        return report.Baseline(ref, commit, {"benchmarks": []}, f"{type(exc).__name__}: {exc}")
