"""Benchmark: what OpenTelemetry tracing costs, off, sampled at 0.1 and at 100%, side by side.

Two parts, each with the three settings in one run:

- the gateway's throughput: one gateway and one product_service process per setting, all up at
  once, the authenticated GET of a product detail through each gateway, rounds interleaved
  (``BENCH_ROUNDS``, default 2; each setting keeps its best round), wrk at c=8 and c=1;
- the order saga's latency: the saga's processes started once per setting, one open-loop step at
  ``BENCH_TRACING_SAGA_RATE`` orders/s (default 10) for ``BENCH_TRACING_SAGA_SECONDS`` (default
  15; 0 leaves it out), POST → CONFIRMED as in the saga benchmark.

``BENCH_TRACING_RATIOS`` names the sampled settings (``0.1,1`` by default).

With tracing on, every process exports (OTLP/HTTP, the kit's batch span processor) to a receiver
in a process of its own (:mod:`.otlp_sink`, decoding each request as a collector would); its CPU
is read from ``/proc`` and reported apart, never in the platform's figures. Sampling is the
standard variables': ``parentbased_traceidratio`` with the ratio as argument.

Targets (issue 15): at 0.1, at most 5% of the gateway's throughput lost; at 100%, at most 15%.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import urllib3

from platform_tools.testing.processes import Harness, Proc, free_port
from service_kit.platform import BY_NAME

from . import saga
from .costs import cpu_seconds, descendants
from .gateway import MAKE_USER, UNSPENDABLE, detail_path, edge_ready, get_token
from .loadgen import Load
from .report import bars
from .runner import Context, Row, register
from .services import exists, seed, seed_products

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


def _label(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio >= 1 else f"{ratio:g}"


def settings(value: str) -> list[tuple[str, float | None]]:
    """(label, sampling ratio; None: tracing off) for each setting: off, then the ratios of
    ``BENCH_TRACING_RATIOS`` (``0.1,1`` by default; ``0`` measures the path of a request that
    is never sampled, spans made by nobody)."""
    ratios = []
    for part in value.split(","):
        try:
            ratio = float(part)
        except ValueError:
            ratio = -1.0
        if not 0 <= ratio <= 1:
            raise SystemExit(f"BENCH_TRACING_RATIOS={value!r}: ratios from 0 to 1, comma-separated")
        ratios.append(ratio)
    return [("off", None), *((_label(r), r) for r in dict.fromkeys(ratios))]


SETTINGS = settings(os.environ.get("BENCH_TRACING_RATIOS", "0.1,1"))
#: Throughput lost at the gateway against tracing off, at most, by setting.
TARGET_LOSS = {"0.1": 0.05, "100%": 0.15}


class Sink:
    """The OTLP receiver's process: its URL, spans received and CPU seconds used so far."""

    def __init__(self, harness: Harness, label: str):
        port = free_port()
        self.proc = Proc(
            f"otlp-sink-{label}",
            [sys.executable, "-m", "platform_tools.bench.otlp_sink", str(port)],
            harness.folder,
            dict(os.environ),
            harness.folder / "logs" / f"otlp-sink-{label.replace('%', '')}.log",
            port=port,
        ).start()
        harness.procs.append(self.proc)  # stopped with the rest, whatever happens
        self.proc.wait_http("/healthz", timeout=30)

    @property
    def url(self) -> str:
        return self.proc.url

    def spans(self) -> int:
        return int(urllib3.request("GET", f"{self.url}/count", timeout=5).data)

    def cpu(self) -> float:
        popen = self.proc.popen
        return (cpu_seconds(popen.pid) or 0.0) if popen else 0.0


def tracing_env(ratio: float | None, sink: Sink | None) -> dict[str, str]:
    if ratio is None or sink is None:
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}  # off: nothing of the SDK is even imported
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(ratio),
    }


def _gateway_rows(context: Context) -> list[Row]:
    harness = context.harness
    auth, product, gateway = BY_NAME["auth"], BY_NAME["product"], BY_NAME["gateway"]
    auth_web = harness.start_web(auth, JWT_AUTO_KEY="1", JWT_ACCESS_TOKEN_LIFETIME="3600")  # noqa: S106 - a lifetime in seconds, not a secret
    seed(harness, auth, MAKE_USER)
    headers = {"Authorization": f"Bearer {get_token(auth_web)}"}
    identity = {
        "AUTH_SERVICE_URL": auth_web.url,
        "JWT_JWKS_URL": f"{auth_web.url}/.well-known/jwks.json",
    }
    harness.migrate(product)
    seed_products(harness, product)
    edges: dict[str, tuple[Proc, Sink | None]] = {}
    pairs: dict[str, tuple[Proc, Proc]] = {}
    path = ""
    for label, ratio in SETTINGS:
        sink = Sink(harness, f"gateway-{label}") if ratio is not None else None
        env = {**identity, **tracing_env(ratio, sink)}
        upstream = harness.start_web(product, migrate=False, **env)
        path = path or detail_path(upstream)
        edge = harness.start_web(
            gateway,
            **env,
            PRODUCT_SERVICE_URL=upstream.url,
            READYZ_UPSTREAMS="auth,product",
            GATEWAY_THROTTLES=UNSPENDABLE,
        )
        status = urllib3.request("GET", edge.url + path, headers=headers, timeout=10).status
        if status != 200:
            raise RuntimeError(f"tracing {label}: GET {path} through the gateway answered {status}")
        edges[label] = (edge, sink)
        pairs[label] = (edge, upstream)

    rounds: dict[str, list[dict[int, Load]]] = {label: [] for label in edges}
    spent: dict[str, float] = dict.fromkeys(edges, 0.0)
    requests: dict[str, int] = dict.fromkeys(edges, 0)
    pair_cpu: dict[str, float] = dict.fromkeys(edges, 0.0)
    for number in range(ROUNDS):
        for label, (edge, sink) in edges.items():
            if number == 0 and context.warmup > 0:
                context.load.run(
                    edge.url + path, connections=8, seconds=context.warmup, headers=headers
                )
            before = sink.cpu() if sink else 0.0
            pair_before = _tree_cpu(pairs[label])
            runs = context.measure(edge.url + path, warm_up=False, headers=headers)
            rounds[label].append(runs)
            if sink:
                time.sleep(1)  # the last batches (sent every 0.5 s at most) reach the receiver
                spent[label] += sink.cpu() - before
            pair_cpu[label] += _tree_cpu(pairs[label]) - pair_before  # its export included
            requests[label] += sum(round(r.rps * context.duration) for r in runs.values())
    rows: list[Row] = []
    base: Row | None = None
    for label, _ in SETTINGS:
        runs = rounds[label]
        edge, sink = edges[label]
        row: Row = {
            "tracing": label,
            "req/s (c=8)": max(r[8].rps for r in runs),
            "req/s (c=1)": max(r[1].rps for r in runs),
            "p50 ms (c=1)": min(r[1].p50_ms for r in runs),
            "p99 ms (c=8)": min(r[8].p99_ms for r in runs),
        }
        base = base or row
        row["throughput lost (c=8)"] = 1 - row["req/s (c=8)"] / base["req/s (c=8)"]
        row["req/s (c=8) per round"] = " / ".join(f"{r[8].rps:.0f}" for r in runs)
        row["spans received"] = sink.spans() if sink else 0
        row["receiver CPU ms /1000 req"] = (
            spent[label] * 1000 / requests[label] * 1000 if sink and requests[label] else 0.0
        )
        row["CPU ms/req (gateway + product)"] = (
            pair_cpu[label] * 1000 / requests[label] if requests[label] else 0.0
        )
        base_cpu = base["CPU ms/req (gateway + product)"] if base is not row else None
        row["throughput lost by CPU"] = (
            1 - base_cpu / row["CPU ms/req (gateway + product)"] if base_cpu else 0.0
        )
        row["errors"] = sum(load.errors + load.non_2xx for r in runs for load in r.values())
        if label in TARGET_LOSS:
            met = row["throughput lost (c=8)"] <= TARGET_LOSS[label]
            row["target"] = f"≤ {TARGET_LOSS[label]:.0%} lost: {'met' if met else 'NOT met'}"
        rows.append(row)
    context.note(
        f"Gateway: GET {path} with a customer's bearer token through one gateway per setting "
        "(its production command), each in front of its own product_service process (granian "
        "1x4) traced alike; the three pairs up at once, rounds interleaved, best of "
        f"{ROUNDS}. A request sampled at the edge makes spans in both processes (the "
        "gateway's SERVER and CLIENT, product_service's Django, psycopg and Redis ones)."
    )
    context.note(
        "CPU ms/req: the gateway's and product_service's processes (their workers and export "
        "threads included; utime + stime from /proc) over every measured run, divided by its "
        "requests; throughput lost by CPU = 1 - off's CPU per request / this one's. It is "
        "steadier than req/s when the machine's speed drifts between rounds (wrk, Redis and "
        "the receiver are not counted)."
    )
    return rows


def _tree_cpu(procs: tuple[Proc, ...]) -> float:
    """CPU seconds used so far by these processes and their children (granian's workers)."""
    pids = [p.popen.pid for p in procs if p.popen]
    pids += [child for pid in list(pids) for child in descendants(pid)]
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def _saga_rows(context: Context) -> list[Row]:
    harness = context.harness
    rate = float(os.environ.get("BENCH_TRACING_SAGA_RATE", "10"))
    seconds = float(os.environ.get("BENCH_TRACING_SAGA_SECONDS", "15"))
    grace = float(os.environ.get("BENCH_SAGA_GRACE", "10"))
    rows: list[Row] = []
    kept = dict(harness.extra_env)
    try:
        for label, ratio in SETTINGS:
            harness.stop_all()
            sink = Sink(harness, f"saga-{label}") if ratio is not None else None
            harness.extra_env = {**kept, **tracing_env(ratio, sink)}
            platform = _saga_platform(harness)
            before = sink.cpu() if sink else 0.0
            step = saga.step(platform, rate, seconds, grace)
            time.sleep(1)
            rows.append(
                {
                    "tracing": label,
                    "orders": step["orders"],
                    "confirmed": step["confirmed"],
                    "saga p50 ms": step["saga p50 ms"],
                    "saga p99 ms": step["saga p99 ms"],
                    "POST p50 ms": step["POST p50 ms"],
                    "spans received": sink.spans() if sink else 0,
                    "receiver CPU ms /order": (
                        (sink.cpu() - before) * 1000 / max(1, step["orders"]) if sink else 0.0
                    ),
                }
            )
    finally:
        harness.extra_env = kept
    context.note(
        f"Saga: {rate:g} orders/s for {seconds:g} s per setting, POSTs to order_service "
        "directly, every saga process (auth, product, inventory, payment and order web and "
        "workers) traced alike and started afresh per setting; latency = the CONFIRMED "
        "transition's `at` minus the POST's start. Spans received include the warm-up's."
    )
    return rows


def _saga_platform(harness: Harness) -> saga.Platform:
    """The saga bench's platform, warmed up; the product's id read from its database (a shell's
    last line may be a log line once tracing is on)."""
    platform = saga.Platform(harness, 20)
    platform.product_id = harness.query(
        BY_NAME["product"], "SELECT id::text FROM catalogue_product WHERE sku = ?", (saga.SKU,)
    )[0][0]
    warm = [platform.post(time.monotonic()) for _ in range(5)]
    if any(p.status != 201 for p in warm):
        raise RuntimeError(f"warm-up orders answered {[p.status for p in warm]}")
    platform.settle(warm, 30)
    return platform


def plot(rows: list[Row], path: Path) -> None:
    bars(
        path,
        [r["tracing"] for r in rows],
        {
            "gateway requests/s (higher is better)": {
                "c=8": [r["req/s (c=8)"] for r in rows],
                "c=1": [r["req/s (c=1)"] for r in rows],
            },
            "throughput lost at c=8 (targets: 5% at 0.1, 15% at 100%)": {
                "c=8": [r["throughput lost (c=8)"] for r in rows],
            },
        },
        "Gateway throughput with tracing off and sampled at "
        + ", ".join(label for label, ratio in SETTINGS if ratio is not None),
    )


@register("tracing cost", slug="tracing", plot=plot)
def tracing_cost(context: Context) -> list[Row]:
    needed = ("auth", "product", "gateway", *saga.SAGA_SERVICES)
    if not all(exists(BY_NAME[n]) for n in needed) or not edge_ready():
        context.note("a service or the gateway's proxy is missing: skipped")
        return []
    rows = _gateway_rows(context)
    for row in rows[1:]:
        context.note(
            f"Tracing at {row['tracing']}: {row['throughput lost (c=8)']:.1%} of the gateway's "
            f"throughput lost at c=8 ({row.get('target', '')})."
        )
    if context.harness.profile != "real":
        context.note("The saga part needs the real profile: skipped")
        return rows
    if float(os.environ.get("BENCH_TRACING_SAGA_SECONDS", "15")) <= 0:
        return rows
    sampled = ", ".join(label for label, ratio in SETTINGS if ratio is not None)
    context.section(f"Order saga with tracing off and at {sampled}", _saga_rows(context))
    context.note(
        "Receiver CPU: the OTLP receiver's own process (utime + stime from /proc), never counted "
        "in the platform's figures."
    )
    return rows
