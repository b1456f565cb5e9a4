"""Load generation: wrk (installed with apt-get on first use when we may), else Python threads.

wrk reports through a Lua ``done()`` hook that writes its summary as JSON to the file named by
``BENCH_WRK_JSON``, so nothing depends on the layout of wrk's human-readable output.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import urllib3

WRK_DONE_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_WRK_JSON"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d}',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
  out:close()
end
"""


@dataclass(frozen=True)
class Load:
    """What one run of the load generator saw."""

    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # connect, read, write errors and timeouts
    non_2xx: int  # answers with a status of 400 or more (wrk counts 3xx as answers)


class LoadGenerator(Protocol):
    name: str
    version: str

    def run(
        self, url: str, *, connections: int, seconds: float, headers: dict | None = None
    ) -> Load: ...


class Wrk:
    name = "wrk"

    def __init__(self, binary: str, folder: Path):
        self.binary = binary
        self.folder = folder
        self.script = folder / "bench_done.lua"
        self.script.write_text(WRK_DONE_LUA)
        # ``wrk -v`` prints its version and exits 1.
        banner = subprocess.run([binary, "-v"], capture_output=True, text=True)  # noqa: S603 - argv built here from a found binary and fixed arguments
        first = (banner.stdout or banner.stderr).strip().splitlines()[0]
        self.version = first.split(" Copyright")[0]

    def run(
        self, url: str, *, connections: int, seconds: float, headers: dict | None = None
    ) -> Load:
        out = self.folder / "wrk.json"
        out.unlink(missing_ok=True)
        threads = min(connections, os.cpu_count() or 1)
        command = [
            self.binary,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(self.script),
            *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
            url,
        ]
        result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
            command, capture_output=True, text=True, env={**os.environ, "BENCH_WRK_JSON": str(out)}
        )
        if result.returncode or not out.exists():
            raise RuntimeError(
                f"wrk failed ({result.returncode}): {result.stderr or result.stdout}"
            )
        raw = json.loads(out.read_text())
        duration = raw["duration_us"] / 1e6
        return Load(
            connections=connections,
            seconds=duration,
            requests=raw["requests"],
            rps=raw["requests"] / duration if duration else 0.0,
            p50_ms=raw["p50_us"] / 1000,
            p90_ms=raw["p90_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            errors=raw["errors"],
            non_2xx=raw["non_2xx"],
        )


class PythonLoad:
    """The fallback: one thread per connection, each on its own keep-alive urllib3 connection.

    The client shares the GIL and the cores with what it measures, so its numbers are lower than
    wrk's and only comparable with each other.
    """

    name = "python (urllib3 threads)"
    version = f"urllib3 {urllib3.__version__}"

    def run(
        self, url: str, *, connections: int, seconds: float, headers: dict | None = None
    ) -> Load:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        latencies: list[list[float]] = [[] for _ in range(connections)]
        errors = [0] * connections
        non_2xx = [0] * connections
        deadline = time.perf_counter() + seconds

        def loop(i: int) -> None:
            pool = urllib3.HTTPConnectionPool(
                parts.hostname, parts.port, maxsize=1, retries=False, timeout=5.0
            )
            while (start := time.perf_counter()) < deadline:
                try:
                    response = pool.request("GET", target, headers=headers, redirect=False)
                except urllib3.exceptions.HTTPError:
                    errors[i] += 1
                    continue
                latencies[i].append(time.perf_counter() - start)
                non_2xx[i] += response.status >= 400
            pool.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        duration = time.perf_counter() - started
        samples = sorted(s for per_thread in latencies for s in per_thread)
        return Load(
            connections=connections,
            seconds=duration,
            requests=len(samples),
            rps=len(samples) / duration,
            p50_ms=_percentile(samples, 50) * 1000,
            p90_ms=_percentile(samples, 90) * 1000,
            p99_ms=_percentile(samples, 99) * 1000,
            errors=sum(errors),
            non_2xx=sum(non_2xx),
        )


def _percentile(sorted_samples: list[float], p: float) -> float:
    if not sorted_samples:
        return math.nan
    index = max(0, math.ceil(p / 100 * len(sorted_samples)) - 1)
    return sorted_samples[index]


def ensure_wrk() -> tuple[str | None, str]:
    """wrk's path (installing the Debian package when root and it is missing), and what happened."""
    found = shutil.which("wrk")
    if found:
        return found, "wrk was on PATH"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "wrk is not installed and this is not root with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> bool:
        print(f"bench: apt-get {' '.join(args)}", flush=True)
        return subprocess.run(["apt-get", *args], env=env, capture_output=True).returncode == 0  # noqa: S603, S607 - apt-get from PATH, argv from constants and the caller's package names

    installed = apt("install", "-y", "-q", "wrk") or (
        apt("update", "-q") and apt("install", "-y", "-q", "wrk")
    )
    found = shutil.which("wrk")
    if installed and found:
        return found, "wrk was installed by the bench (apt-get install wrk)"
    return None, "apt-get install wrk failed"


def load_generator(folder: Path) -> tuple[LoadGenerator, str]:
    """wrk when it is (or can be made) available, else the Python fallback; and a note why."""
    binary, how = ensure_wrk()
    if binary:
        return Wrk(binary, folder), how
    return PythonLoad(), f"{how}: fell back to the Python load generator (not comparable with wrk)"
