"""What an order costs: CPU per process, database work and messages, read from the processes' own
counters around one step of the saga at a fixed rate, and a py-spy profile of the hottest process.

- CPU: ``utime + stime`` of ``/proc/<pid>/stat`` before and after, for every process of the run
  (a web process with its granian workers; a worker, with its embedded beat as ``beat``), the
  PostgreSQL backends connected to the run's databases, and the shared RabbitMQ and Redis servers
  (found by their listening port; their figures include whatever else uses them meanwhile).
- Database: ``pg_stat_statements`` calls when the server preloads it, else ``pg_stat_database``'s
  transactions and rows of the run's databases (its counters reach the view within a second).
- Messages: the kit's own Prometheus counters (``messaging_published_total``: published from the
  outboxes; ``celery_tasks_total``: deliveries handled), read from each service's metrics folder.
- Profile: ``py-spy record`` (PyPI, pinned in requirements/test.txt) of the process with the most
  CPU per order, during a second step at the same rate: a flame graph SVG and its top functions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness

TICK = os.sysconf("SC_CLK_TCK")
#: The shared servers, by the port they listen on (loopback).
SERVERS = {"rabbitmq": 5672, "redis": 6379}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (None when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                text = (entry / "stat").read_text()
                parents[int(entry.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    parents = _parents() if parents is None else parents
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier]
        found += children
        frontier = children
    return found


def listener(port: int) -> int | None:
    """The pid of the process listening on TCP ``port`` (IPv4 or IPv6), if this user may see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    if not inodes:
        return None
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in sockets:
                        return int(entry.name)
    return None


@dataclass
class Snapshot:
    cpu: dict[tuple[str, int], float]  # (label, pid) -> CPU seconds
    database: Counter[str]
    messages: Counter[str]
    at: float = field(default_factory=time.monotonic)


class Costs:
    """Reads the counters of a harness's processes and the shared servers they use."""

    def __init__(self, harness: Harness, services: Iterable[str]):
        self.harness = harness
        self.services = list(services)
        self.databases = [
            harness.database_for(_service(n)).rsplit("/", 1)[1] for n in self.services
        ]
        self.statements = self._statements_available()

    # -- processes -----------------------------------------------------------------------------
    def processes(self) -> dict[tuple[str, int], None]:
        """Every process to count, labelled: ``order web``, ``order worker``, ``order beat``,
        ``postgres``, ``rabbitmq``, ``redis``."""
        parents = _parents()
        found: dict[tuple[str, int], None] = {}
        for proc in self.harness.procs:
            if not proc.alive() or proc.popen is None:
                continue
            service, kind = proc.name.rsplit(".", 1)
            found[(f"{service} {kind}", proc.popen.pid)] = None
            for child in descendants(proc.popen.pid, parents):
                # a worker's only child process is its embedded beat; a web's are granian workers
                found[(f"{service} {'beat' if kind == 'worker' else kind}", child)] = None
        for pid in self._backends():
            found[("postgres", pid)] = None
        for name, port in SERVERS.items():
            pid = listener(port)
            if pid is not None:
                found[(name, pid)] = None
                for child in descendants(pid, parents):  # erlang's port programs, if any
                    found[(name, child)] = None
        return found

    def _backends(self) -> list[int]:
        rows = _admin(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (self.databases,),
        )
        return [pid for (pid,) in rows]

    # -- database and messages -----------------------------------------------------------------
    def _statements_available(self) -> bool:
        with contextlib.suppress(Exception):
            rows = _admin("SELECT 1 FROM pg_stat_statements LIMIT 1")
            return rows is not None
        return False

    def database(self) -> Counter[str]:
        if self.statements:
            rows = _admin(
                "SELECT sum(calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                "WHERE d.datname = ANY(%s)",
                (self.databases,),
            )
            return Counter({"SQL statements": int(rows[0][0] or 0)})
        rows = _admin(
            "SELECT sum(xact_commit + xact_rollback), sum(tup_returned), sum(tup_fetched), "
            "sum(tup_inserted + tup_updated + tup_deleted) FROM pg_stat_database "
            "WHERE datname = ANY(%s)",
            (self.databases,),
        )
        xacts, returned, fetched, written = (int(v or 0) for v in rows[0])
        return Counter(
            {
                "transactions": xacts,
                "rows scanned": returned,
                "rows fetched": fetched,
                "rows written": written,
            }
        )

    def messages(self) -> Counter[str]:
        from prometheus_client import CollectorRegistry, multiprocess

        counts: Counter[str] = Counter()
        for name in self.services:
            folder = self.harness.folder / "metrics" / name
            if not folder.is_dir():
                continue
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(folder))
            for metric in registry.collect():
                for sample in metric.samples:
                    if sample.name == "messaging_published_total":
                        counts["messages published"] += int(sample.value)
                    elif sample.name == "celery_tasks_total":
                        counts["deliveries handled"] += int(sample.value)
        return counts

    # -- the measure -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        cpu = {key: cpu_seconds(key[1]) for key in self.processes()}
        return Snapshot(
            {k: v for k, v in cpu.items() if v is not None}, self.database(), self.messages()
        )

    def between(self, before: Snapshot, after: Snapshot, orders: int) -> dict[str, float]:
        """Per order: CPU ms of each label (and in all), then the database and message counts.
        A process born during the window counts from zero; one that ended in it is missed."""
        per: dict[str, float] = {}
        for key, seconds in after.cpu.items():
            used = seconds - before.cpu.get(key, 0.0)
            per[key[0]] = per.get(key[0], 0.0) + used
        ordered = dict(sorted(per.items(), key=lambda kv: -kv[1]))
        figures = {f"CPU ms/order {label}": 1000 * s / orders for label, s in ordered.items()}
        figures["CPU ms/order, all"] = 1000 * sum(per.values()) / orders
        for name in after.database:
            figures[f"{name}/order"] = (after.database[name] - before.database[name]) / orders
        for name in after.messages:
            figures[f"{name}/order"] = (after.messages[name] - before.messages[name]) / orders
        return figures

    def hottest(self, before: Snapshot, after: Snapshot) -> tuple[str, int] | None:
        """The harness's Python process (not a shared server) that used the most CPU."""
        ours = {p.popen.pid for p in self.harness.procs if p.popen is not None}
        parents = _parents()
        python = ours | {c for pid in ours for c in descendants(pid, parents)}
        used = [
            (seconds - before.cpu.get(key, 0.0), key)
            for key, seconds in after.cpu.items()
            if key[1] in python
        ]
        return max(used)[1] if used else None


def _service(name: str):
    from service_kit.platform import BY_NAME

    return BY_NAME[name]


def _admin(sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(backing.POSTGRES_URL, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


# -- the profile ---------------------------------------------------------------------------------
def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def profile(pid: int, seconds: float, folder: Path, stem: str, during: Callable[[], object]):
    """Record ``pid`` with py-spy while ``during()`` runs: ``<stem>.svg`` (flame graph) and
    ``<stem>.txt`` (collapsed stacks); returns the top functions by own samples and in total."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed (requirements/test.txt)")
    folder.mkdir(parents=True, exist_ok=True)
    common = ["record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    common += ["--rate", "100", "--nonblocking", "--subprocesses", "--gil"]
    runs = [
        subprocess.Popen(  # noqa: S603 - py-spy of this virtualenv, argv built here
            [spy, *common, "--format", fmt, "--output", str(folder / f"{stem}.{ext}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt"))
    ]
    try:
        during()
    finally:
        errors = [run.communicate(timeout=seconds + 60)[1] for run in runs]
    collapsed = folder / f"{stem}.txt"
    if not collapsed.exists():
        raise RuntimeError(f"py-spy recorded nothing: {errors[-1].strip()[-300:]}")
    return top_functions(collapsed.read_text())


def top_functions(collapsed: str, limit: int = 15) -> list[dict[str, object]]:
    """From py-spy's collapsed stacks (``frame;frame;... count``): each function's own samples
    (it was on top of the stack) and total samples (anywhere in the stack), as shares."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return []
    return [
        {
            "function": _short(frame),
            "own %": 100 * n / samples,
            "total %": 100 * total[frame] / samples,
        }
        for frame, n in own.most_common(limit)
    ]


def _short(frame: str) -> str:
    """``fn (path/to/site-packages/pkg/mod.py:12)`` → ``fn (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    where = "/".join(where.split("/")[-3:])
    return f"{name} ({where})" if where else name
