"""Benchmark: what a rolling restart costs the customers, on real processes.

The whole platform (:class:`~platform_tools.testing.stack.Stack`) with two instances of every web
process and every worker, as the rolling-restart end-to-end test runs it
(:mod:`platform_tools.testing.rolling`). Orders (10/s) and catalogue reads (100/s) go through the
gateway (``BENCH_RESTART_ORDERS`` and ``BENCH_RESTART_READS`` per second: lower on a machine that
cannot serve those rates, or the figures measure its queues): first in steady state for
``BENCH_RESTART_STEADY`` seconds (default 20), then while every instance in turn gets SIGTERM and
is started again, until the last one is ready. For each phase: requests sent (and per second) and
failed, p50 and p99 latency (from each request's scheduled time to its answer), and how many of
its orders reached a final state (``BENCH_RESTART_GRACE`` seconds at most after the load stops,
default 180).

Needs the real profile (PostgreSQL, RabbitMQ and Redis on loopback).
"""

from __future__ import annotations

import os
import time
from collections import Counter

from platform_tools.testing import rolling
from platform_tools.testing.stack import Stack

from .runner import Context, Row, register

PHASES = ("steady", "restart")


@register("rolling restart", slug="restart")
def run(ctx: Context) -> list[Row]:
    if ctx.harness.profile != "real":
        raise RuntimeError("the rolling restart needs the real profile (PostgreSQL, RabbitMQ)")
    steady = float(os.environ.get("BENCH_RESTART_STEADY", "20"))
    orders_rate = float(os.environ.get("BENCH_RESTART_ORDERS", rolling.ORDERS_PER_SECOND))
    reads_rate = float(os.environ.get("BENCH_RESTART_READS", rolling.READS_PER_SECOND))
    kinds = {
        "read": f"GET /api/v1/products/ ({reads_rate:g}/s)",
        "order": f"POST /api/v1/orders/ ({orders_rate:g}/s)",
    }
    grace = float(os.environ.get("BENCH_RESTART_GRACE", "180"))
    with Stack(ctx.harness.folder / "restart", env=rolling.TIMERS, prometheus=False) as stack:
        product_id = rolling.stocked_product(stack, on_hand=1_000_000)
        token = rolling.customer_token(stack)
        first, second = rolling.second_instances(stack)
        gateways = [first["gateway.web"].url, second["gateway.web"].url]
        load = rolling.Load(gateways, token, product_id)
        load.start(orders=orders_rate, reads=reads_rate)
        try:
            time.sleep(steady)
            load.phase = "restart"
            began = time.monotonic()
            rolling.restart_in_turn(stack, load, (first, second))
            restart_seconds = time.monotonic() - began
        finally:
            load.stop()
        down = [key for key, proc in (*first.items(), *second.items()) if not proc.alive()]
        orders = {o.detail: o.phase for o in load.outcomes if o.kind == "order" and o.ok}
        try:
            statuses = rolling.wait_final(stack, list(orders), timeout=grace)
        except AssertionError:
            statuses = rolling.order_statuses(stack, list(orders))
    ctx.note(
        f"steady state {steady:g} s; the restart of {len(first) + len(second)} instances "
        f"(two rounds: the first instance of every process, then the second) took "
        f"{restart_seconds:.0f} s"
    )
    if down:
        ctx.note(f"not running at the end: {', '.join(down)}")
    for failure, count in Counter(f[:120] for f in load.failures).most_common(5):
        ctx.note(f"{count} failed: {failure}")
    for (kind, phase), count in sorted(load.unsent.items()):
        ctx.note(f"{count} {kind} requests due in the {phase} phase not sent before the stop")
    seconds = {"steady": steady, "restart": restart_seconds}
    return [_row(load, kind, label, seconds, orders, statuses) for kind, label in kinds.items()]


def _row(
    load: rolling.Load,
    kind: str,
    label: str,
    seconds: dict[str, float],
    orders: dict[str, str],
    statuses: dict[str, str],
) -> Row:
    row: Row = {"requests": label}
    for phase in PHASES:
        outcomes = [o for o in load.phase_rows(phase) if o.kind == kind]
        ms = [o.ms for o in outcomes if o.ok]
        row[f"{phase}: sent"] = len(outcomes)
        row[f"{phase}: per s"] = len(outcomes) / seconds[phase]
        row[f"{phase}: failed"] = sum(not o.ok for o in outcomes)
        row[f"{phase}: p50 ms"] = rolling.percentile(ms, 50)
        row[f"{phase}: p99 ms"] = rolling.percentile(ms, 99)
        if kind == "order":
            placed = [order for order, at in orders.items() if at == phase]
            final = Counter(statuses.get(order, "not final") for order in placed)
            row[f"{phase}: orders final"] = ", ".join(
                f"{count} {status}" for status, count in sorted(final.items())
            )
    return row
