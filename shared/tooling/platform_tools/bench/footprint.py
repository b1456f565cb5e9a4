"""Benchmark: the embedded stack's footprint, as a newcomer runs it with ``make up``.

``python -m service_kit.platform up`` (what ``make up`` runs) is started twice on a fresh data
folder and its own block of ports: the *first* start migrates seven empty databases and loads the
demo data, the *warm* one finds them in place. Each is timed from launch to every service's
``/readyz`` answering 200 (target for the warm start: 30 s).

Memory is the whole process tree's (honcho, each web server and its workers, each Celery worker),
read from ``/proc``: RSS added up (pages shared between forked processes counted in each) and PSS
(shared pages divided among their sharers: what the stack really costs). Taken idle, 5 s after the
warm start, and at the peak while the demo customer places orders through the gateway at
``BENCH_FOOTPRINT_RATE`` orders/s (default 2) for ``BENCH_FOOTPRINT_SECONDS`` (default 20) and
the sagas settle (target: 1.5 GB).

The gateway's per-user budget (600/min) would refuse the load's polling, so this run lifts it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import urllib3

from platform_tools.testing.api import SHIPPING_ADDRESS as ADDRESS
from platform_tools.testing.processes import free_port
from service_kit.platform import SERVICES

from .runner import Context, Row, register

TARGET_READY_S = 30.0
TARGET_MEMORY_MB = 1536.0
FINAL = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}
SKU = "DEMO-COFFEE-BEANS"  # the demo catalogue's deepest stock (100 units)


def _port_block() -> int:
    """A base port whose seven successors are free."""
    for _ in range(50):
        base = free_port()
        if base + len(SERVICES) < 65000 and all(_free(base + i) for i in range(len(SERVICES))):
            return base
    raise RuntimeError("no free block of ports")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mb(pid: int) -> tuple[float, float, int]:
    """(RSS sum, PSS sum, process count) of the tree under ``pid``, in MiB."""
    rss = pss = count = 0
    for member in tree(pid):
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue  # gone meanwhile
        values = {
            line.split(":")[0]: int(line.split()[1])
            for line in rollup.splitlines()[1:]
            if line.endswith("kB")
        }
        rss, pss, count = rss + values.get("Rss", 0), pss + values.get("Pss", 0), count + 1
    return rss / 1024, pss / 1024, count


HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10), retries=False)


def _call(method: str, url: str, body=None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    response = HTTP.request(method, url, body=data, headers=headers)
    return response.status, (response.json() if response.status < 300 else None)


def _ready(ports: list[int]) -> bool:
    try:
        return all(
            HTTP.request("GET", f"http://127.0.0.1:{port}/readyz").status == 200 for port in ports
        )
    except urllib3.exceptions.HTTPError:
        return False


class Stack:
    """``python -m service_kit.platform up`` on its own data folder and ports."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.base = _port_block()
        self.ports = [self.base + i for i in range(len(SERVICES))]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CACHE_"))},
            "PLATFORM_DATA_DIR": str(folder / "data"),
            "PLATFORM_PORT_BASE": str(self.base),
            "PLATFORM_PROFILE": "embedded",
            "GATEWAY_THROTTLES": "user=1000000/min,anon=1000000/min",
        }
        self.env.pop("CELERY_BROKER_URL", None)
        self.popen: subprocess.Popen | None = None

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.base}"

    def start(self, timeout: float = 300) -> float:
        """Seconds from launch to every service ready."""
        log = (self.folder / "up.log").open("ab")
        started = time.monotonic()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "service_kit.platform", "up"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while time.monotonic() - started < timeout:
            if self.popen.poll() is not None:
                raise RuntimeError(f"make up exited; see {self.folder / 'up.log'}")
            if _ready(self.ports):
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"not ready after {timeout}s; see {self.folder / 'up.log'}")

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)  # as Ctrl-C: honcho stops its processes
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()

    def memory(self) -> tuple[float, float, int]:
        if self.popen is None:  # not an assert: it must hold under python -O too
            raise RuntimeError("the process was not started")
        return memory_mb(self.popen.pid)


def _orders_under_load(stack: Stack, rate: float, seconds: float) -> tuple[float, float, dict]:
    """Peak (RSS, PSS) while the demo customer orders at ``rate``/s; the orders' final states."""
    password = (Path(stack.env["PLATFORM_DATA_DIR"]) / "demo-password").read_text().strip()
    status, pair = _call(
        "POST",
        f"{stack.gateway}/api/v1/auth/token/",
        {"email": "customer@demo.local", "password": password},
    )
    if status != 200:
        raise RuntimeError(f"demo customer sign-in answered {status}")
    token = pair["access"]
    _, page = _call("GET", f"{stack.gateway}/api/v1/products/?search={SKU}", token=token)
    product = next(p for p in page["results"] if p["sku"] == SKU)

    peak = [0.0, 0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, pss, _ = stack.memory()
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    body = {
        "lines": [{"product_id": product["id"], "quantity": 1}],
        "shipping_address": ADDRESS,
        "payment_token": "tok_visa",
    }
    ids = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        status, order = _call("POST", f"{stack.gateway}/api/v1/orders/", body, token)
        if status == 201:
            ids.append(order["id"])
    states: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while len(states) < len(ids) and time.monotonic() < deadline:
        for order_id in ids:
            if order_id not in states:
                _, order = _call("GET", f"{stack.gateway}/api/v1/orders/{order_id}/", token=token)
                if order and order["status"] in FINAL:
                    states[order_id] = order["status"]
        time.sleep(1)
    stop.set()
    sampler.join()
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    counts["not settled"] = len(ids) - len(states)
    counts["refused"] = int(rate * seconds) - len(ids)
    return peak[0], peak[1], counts


@register("Footprint of the embedded stack (make up)", slug="footprint")
def footprint(ctx: Context) -> list[Row]:
    rate = float(os.environ.get("BENCH_FOOTPRINT_RATE", "2"))
    seconds = float(os.environ.get("BENCH_FOOTPRINT_SECONDS", "20"))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="footprint-") as folder:
        stack = Stack(Path(folder))
        try:
            first = stack.start()
            stack.stop()
            warm = stack.start()
            rows.append(_row("first start (migrations, demo data)", first, None, TARGET_READY_S))
            rows.append(_row("warm start", warm, None, TARGET_READY_S))
            time.sleep(5)
            rss, pss, count = stack.memory()
            rows.append(_row(f"idle ({count} processes)", None, (rss, pss), TARGET_MEMORY_MB))
            peak_rss, peak_pss, states = _orders_under_load(stack, rate, seconds)
            label = f"peak under {rate:g} orders/s for {seconds:g} s"
            rows.append(_row(label, None, (peak_rss, peak_pss), TARGET_MEMORY_MB))
            ctx.note(
                "Footprint load: "
                + ", ".join(f"{n} {state}" for state, n in sorted(states.items()) if n)
                + " (orders through the gateway, embedded profile)."
            )
        finally:
            stack.stop()
    return rows


def _row(what: str, seconds: float | None, memory: tuple[float, float] | None, target) -> Row:
    if seconds is not None:
        met = seconds <= target
        return {
            "measure": what,
            "seconds": round(seconds, 1),
            "RSS MB": "",
            "PSS MB": "",
            "target": f"≤ {target:g} s" + ("" if "first" in what else (" ✓" if met else " ✗")),
        }
    rss, pss = memory
    return {
        "measure": what,
        "seconds": "",
        "RSS MB": round(rss),
        "PSS MB": round(pss),
        "target": f"≤ {target:g} MB (PSS) " + ("✓" if pss <= target else "✗"),
    }
