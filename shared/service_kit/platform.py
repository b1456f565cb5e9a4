"""The platform as a whole: which services there are, and the commands that run them all.

``python -m service_kit.platform up`` migrates every database and starts every web process and
worker (``make up``; ``--detach``: in the background, logging to ``var/log/platform.log``);
``status`` shows each service's health, readiness and processes, ``down`` stops the platform;
``migrate`` only migrates; ``procfile`` prints the process list.

One platform per checkout (per data folder) and per port: ``up`` claims both before anything else
(:mod:`service_kit.running`) and refuses, naming who holds them, when it cannot. granian binds with
``SO_REUSEPORT``, so without that a second platform would share the ports without a word. Sharing
a port on purpose (a rolling restart) is for processes started one by one on an explicit port (the
test harness's ``start_web(port=...)``), never for ``up``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import running
from .conf import REPO_ROOT, SERVICE_NAMES, SERVICE_PORTS, data_dir, write_private


@dataclass(frozen=True)
class Service:
    name: str
    folder: str
    port: int
    worker: bool = True
    base: Path = REPO_ROOT
    package: str = ""  # the project package, when it is not named like the folder

    @property
    def path(self) -> Path:
        return self.base / self.folder

    @property
    def project(self) -> str:
        return self.package or self.folder

    def web_command(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
        threads: int = 4,
        options: tuple[str, ...] = (),
    ) -> list[str]:
        """The production WSGI server the benchmarks chose: granian (see README, Benchmarks).
        ``options`` are more granian options (the container's: worker respawn, kill timeout)."""
        return [
            _bin("granian"),
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port or self.port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--no-ws",
            "--log-level",
            "warning",
            *options,
            f"{self.project}.wsgi:application",
        ]

    def worker_command(
        self, *, embedded_beat: bool = True, pool: str = "threads", concurrency: int = 2
    ) -> list[str]:
        command = [
            _bin("celery"),
            "-A",
            self.project,
            "worker",
            "-P",
            pool,
            "-c",
            str(concurrency),
            "-n",
            f"{self.name}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ]
        return command + (["-B"] if embedded_beat else [])

    def beat_command(self) -> list[str]:
        """Celery beat on its own (the real profile: exactly one per service)."""
        return [_bin("celery"), "-A", self.project, "beat", "-l", "INFO"]

    def manage(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", *args], cwd=self.path, env=env, check=check, **kwargs
        )


def _service(name: str) -> Service:
    # The gateway has no queues of its own, hence no worker.
    gateway = name == "gateway"
    return Service(name, name if gateway else f"{name}_service", SERVICE_PORTS[name], not gateway)


#: Every service, in the order of the one table (service_kit.conf.SERVICE_NAMES).
SERVICES = [_service(name) for name in SERVICE_NAMES]
BY_NAME = {s.name: s for s in SERVICES}


def _bin(name: str) -> str:
    """A console script of this virtualenv."""
    return str(Path(sys.executable).with_name(name))


def migrate(services: list[Service] = SERVICES) -> None:
    for service in services:
        print(f"migrating {service.name}", flush=True)
        service.manage("migrate", "--noinput", "-v", "0")


def prepare(services: list[Service] = SERVICES) -> None:
    """Each service's ``prepare`` (migrate, demo data, static files), the services side by side:
    seven Django starts in parallel instead of twenty-one in a row. Stops at the first failure."""

    def one(service: Service) -> tuple[Service, subprocess.CompletedProcess[str]]:
        return service, service.manage("prepare", capture_output=True, text=True, check=False)

    failed = []
    with ThreadPoolExecutor(max_workers=len(services) or 1) as pool:
        for service, result in pool.map(one, services):
            output = (result.stdout + (result.stderr if result.returncode else "")).strip()
            print(f"{service.name}: {output or 'ready to start'}", flush=True)
            if result.returncode:
                failed.append(service.name)
    if failed:
        raise SystemExit(f"could not prepare: {', '.join(failed)}")


#: The services that call others with a service token of their own (client credentials of
#: auth_service, ``service_kit.auth.service_tokens``), and the scopes their client is given.
SERVICE_CLIENTS = {
    "order": ("payments:read", "inventory:read", "products:read"),  # reconciliation
    "gateway": ("console:read",),  # the staff front page's figures and activity
    "user": ("accounts:read",),  # a profile asked for before user.registered arrived
}


def client_secret_path(name: str) -> Path:
    """The file holding service ``name``'s client secret, made on first use (only its owner can
    read it); the processes get its path (``SERVICE_CLIENT_SECRET_FILE``), never the secret."""
    folder = data_dir() / "service-clients"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path


def create_clients(services: list[Service] = SERVICES) -> None:
    """Give every service of ``SERVICE_CLIENTS`` its client in auth_service, with the secret of
    its file (set again at each start, so a new data folder or a changed scope list takes)."""
    if "auth" not in {service.name for service in services}:
        return  # auth runs elsewhere: its clients are its own business

    def one(name: str) -> subprocess.CompletedProcess[str]:
        return BY_NAME["auth"].manage(
            "create_service_client",
            name,
            "--secret-file",
            str(client_secret_path(name)),
            "--scopes",
            *SERVICE_CLIENTS[name],
            capture_output=True,
            text=True,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=len(SERVICE_CLIENTS)) as pool:
        results = dict(zip(SERVICE_CLIENTS, pool.map(one, SERVICE_CLIENTS), strict=True))
    failed = {name: result for name, result in results.items() if result.returncode}
    for name, result in failed.items():
        print(f"auth: could not create the service client {name}: {result.stderr.strip()}")
    if failed:
        raise SystemExit(f"could not create service clients: {', '.join(failed)}")
    print(f"auth: service clients {', '.join(SERVICE_CLIENTS)} ready", flush=True)


def processes(
    services: list[Service] = SERVICES,
) -> list[tuple[str, list[str], Path, dict[str, str]]]:
    result = []
    for service in services:
        env = {"PROMETHEUS_MULTIPROC_DIR": str(data_dir() / "metrics" / service.name)}
        if service.name in SERVICE_CLIENTS:
            env.update(
                SERVICE_CLIENT_ID=service.name,
                SERVICE_CLIENT_SECRET_FILE=str(client_secret_path(service.name)),
            )
        result.append((f"{service.name}.web", service.web_command(), service.path, env))
        if service.worker:
            result.append((f"{service.name}.worker", service.worker_command(), service.path, env))
    return result


# -- one platform per checkout and per port ------------------------------------------------------
#: The whole platform's processes leave this long to stop on SIGTERM (honcho gives each 5 s) before
#: ``down`` kills what remains.
STOP_GRACE = 20.0
MODULE = "service_kit.platform"  # what ``up`` runs as (``python -m``), seen in /proc
_HONCHO_LINE = re.compile(r"^\d\d:\d\d:\d\d \S+ +\| ")


def _data_claim() -> str:
    digest = hashlib.sha256(str(data_dir()).encode()).hexdigest()[:24]
    return f"service_kit.platform.data.{digest}"


def _port_claim(port: int) -> str:
    return f"service_kit.platform.port.{port}"


def state_path() -> Path:
    """What the running platform of this data folder wrote about itself (pid, ports, log)."""
    return data_dir() / "platform.json"


def log_path() -> Path:
    return data_dir() / "log" / "platform.log"


def _root(pids: list[int]) -> int:
    """The first of ``pids`` whose parent is not among them (forks share what they hold)."""
    return next((pid for pid in pids if running.parent(pid) not in pids), min(pids))


def _topmost(pid: int) -> int:
    """``pid`` or its closest ancestor running the same command (granian's listening worker → its
    main process)."""
    chain = running.ancestors(pid)
    while len(chain) > 1 and running.command(chain[1]) == running.command(chain[0]):
        chain.pop(0)
    return chain[0] if chain else pid


def _checkout_of(pid: int) -> Path | None:
    """The checkout a process of a platform runs in: its folder or a folder above it holding this
    kit (a web process runs in its service's folder, ``up`` in the checkout itself)."""
    for member in running.ancestors(pid):
        folder = running.cwd(member)
        for candidate in [folder, *folder.parents] if folder else []:
            if (candidate / "shared" / "service_kit" / "platform.py").is_file():
                return candidate
    return None


def _platform_of(pid: int) -> int | None:
    """The ``up`` process ``pid`` belongs to, if any."""
    found = next(
        (p for p in running.ancestors(pid) if running.arguments(p)[1:3] == ["-m", MODULE]),
        None,
    )
    return found and _topmost(found)  # the process itself, not one of its forks (honcho's)


def _free_base() -> int:
    size, base = len(SERVICE_NAMES), min(SERVICE_PORTS.values(), default=8000) + 100
    while any(
        running.listening_inodes(p) or running.claim_holders(_port_claim(p))
        for p in range(base, base + size)
    ):
        base += 100
    return base


def _refusal(taken: dict[Service, list[int]]) -> str:
    """Who holds each taken port (the listening process, else the platform claiming it) and how
    to stop it."""
    lines = ["make up: refused, a port of this platform is taken:"]
    platforms: dict[int, Path | None] = {}
    foreign = False
    for service, holders in taken.items():
        if not holders:
            lines.append(f"  {service.port} ({service.name}): a process this user cannot inspect")
            foreign = True
            continue
        pid = _topmost(_root(holders))
        text = f"  {service.port} ({service.name}): pid {pid} ({running.command(pid)})"
        platform = _platform_of(pid)
        if platform is None:
            foreign = True
            lines.append(f"{text}, in {running.cwd(pid) or '?'}")
        else:
            platforms[platform] = _checkout_of(pid)
            lines.append(f"{text}, of the platform pid {platform}")
    for platform, checkout in platforms.items():
        lines.append(f"The platform pid {platform} is the checkout {checkout or '?'}'s.")
    lines.append("Stop what holds them first:")
    for folder in sorted({str(c or "?") for c in platforms.values()}):
        lines.append(f"  `make down` in {folder} (or Ctrl-C in the terminal running it);")
    if foreign:
        lines.append("  the program named above;")
    lines.append(
        "or run this one beside it on purpose, on other ports: "
        f"PLATFORM_PORT_BASE={_free_base()} make up"
    )
    return "\n".join(lines)


def _already_running(holders: list[int]) -> str:
    state = _read_state() or {}
    if not holders or state.get("pid") not in holders:  # a state file left by an earlier one
        state = {"pid": _root(holders) if holders else "?"}
    where = f"in the background, its log {state['log']}" if state.get("log") else "in a terminal"
    since = f", since {state['started']}" if state.get("started") else ""
    return (
        f"make up: refused, the platform of this checkout already runs (pid {state['pid']}{since}, "
        f"{where}; its data in {data_dir()}).\n"
        "Stop it: `make down` (or Ctrl-C in its terminal); `make status` shows it. A second "
        "platform of this checkout needs its own PLATFORM_DATA_DIR and PLATFORM_PORT_BASE."
    )


def _taken(services: list[Service]) -> dict[Service, list[int]]:
    """The services whose port a program listens on, with the processes holding it."""
    taken = {}
    for service in services:
        inodes, holders = running.listeners(service.port)
        if inodes:
            taken[service] = holders
    return taken


def claim(services: list[Service]) -> list[socket.socket]:
    """This checkout's data folder and every port of ``services``, for this process and its
    forks; refuses (SystemExit, its message naming the holders) when another process holds any,
    or when a program already listens on a port."""
    data = running.claim(_data_claim())
    if data is None:
        raise SystemExit(_already_running(running.claim_holders(_data_claim())))
    claims = [data]
    taken: dict[Service, list[int]] = {}
    for service in services:
        port = running.claim(_port_claim(service.port))
        if port is None:
            taken[service] = running.claim_holders(_port_claim(service.port))
        else:
            claims.append(port)
    taken = {**taken, **_taken(services)}  # the listening process says more than the claim
    if taken:
        for held in claims:
            held.close()
        raise SystemExit(_refusal(taken))
    return claims


def _read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_path().read_text())
    except (OSError, ValueError):
        return None
    return state


def _write_state(services: list[Service], log: Path | None) -> None:
    state = {
        "pid": os.getpid(),
        "checkout": str(REPO_ROOT),
        "data": str(data_dir()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "log": str(log) if log else None,
        "ports": {service.name: service.port for service in services},
    }
    temporary = state_path().with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(state_path())


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM before honcho's loop: stop as Ctrl-C would, cleaning up


# -- up, status, down ----------------------------------------------------------------------------
def up(services: list[Service] = SERVICES, *, detach: bool = False, log: Path | None = None) -> int:
    # Absolute from here on: the processes started below run in their own folders.
    os.environ["PLATFORM_DATA_DIR"] = str(data_dir())
    claims = claim(services)
    if detach:
        for held in claims:
            held.close()  # the background platform claims them again, before anything else
        return _detach(services)
    signal.signal(signal.SIGTERM, _interrupt)
    _write_state(services, log)
    try:
        return _run(services, stop_hint="make down" if log else "Ctrl-C")
    except KeyboardInterrupt:
        return 130
    finally:
        if (_read_state() or {}).get("pid") == os.getpid():
            state_path().unlink(missing_ok=True)
        for held in claims:
            held.close()


def _run(services: list[Service], stop_hint: str) -> int:
    from honcho.manager import Manager

    prepare(services)
    create_clients(services)
    # A program may have taken a port while the services were prepared: check again before the
    # web processes bind (SO_REUSEPORT would let them share it).
    taken = _taken(services)
    if taken:
        raise SystemExit(_refusal(taken))
    for service in services:
        # Counters restart with the processes: stale files of dead ones must not add up.
        shutil.rmtree(data_dir() / "metrics" / service.name, ignore_errors=True)
        (data_dir() / "metrics" / service.name).mkdir(parents=True)
    manager = Manager()
    for name, command, cwd, env in processes(services):
        manager.add_process(
            name, subprocess.list2cmdline(command), cwd=str(cwd), env={**os.environ, **env}
        )
    print(f"\nThe platform (embedded profile), {stop_hint} stops it:")
    for service in services:
        print(
            f"  {service.name:<10} http://127.0.0.1:{service.port}/  "
            f"(health /healthz, ready /readyz, docs /api/docs/)"
        )
    for service in services:
        if service.name == "gateway":
            # The one staff address: the front page signs in and links the admins the roles open.
            print(f"\nStaff: http://127.0.0.1:{service.port}/admin/")
    print(flush=True)
    manager.loop()
    return manager.returncode or 0


def _detach(services: list[Service]) -> int:
    """``up`` again in the background (its own session, logging to var/log/platform.log); back
    when every web process answers, or with the log's end when it stopped first."""
    log = log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        child = subprocess.Popen(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "-m", MODULE, "up"]
            + ([service.name for service in services] if services != SERVICES else [])
            + ["--log", str(log)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + float(os.environ.get("PLATFORM_UP_TIMEOUT", "300"))
    while not all(_probe(service.port, "/healthz")[0] for service in services):
        if child.poll() is not None:
            sys.stderr.write(log.read_text()[-3000:])
            return child.returncode or 1
        if time.monotonic() > deadline:
            print(f"not answering after {deadline:.0f} s: stopping it; its log: {log}")
            down()
            return 1
        time.sleep(0.5)
    head = log.read_text().splitlines()
    print("\n".join(line for line in head if not _HONCHO_LINE.match(line)).rstrip())
    print(f"\nIn the background, its log {log}; `make status` shows it, `make down` stops it.\n")
    return status()


def _probe(port: int, path: str) -> tuple[int | None, str]:
    """The HTTP status of ``path`` and what its JSON body says, as one short text."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            code, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        code, body = error.code, error.read()
    except OSError:
        return None, "no answer"
    try:
        answer = json.loads(body)
    except ValueError:
        return code, str(code)
    words = [str(answer.get("status", ""))] if isinstance(answer, dict) else []
    for key in ("failed", "degraded"):
        named = answer.get(key) if isinstance(answer, dict) else None
        if named:
            words.append(f"{key}: {','.join(named)}")
    return code, " ".join([str(code), *filter(None, words)])


def _platform_processes() -> tuple[int, set[int]] | None:
    """The running platform of this data folder: its main pid and every process of it."""
    holders = running.claim_holders(_data_claim())
    if not holders:
        return None
    return _root(holders), set(holders) | running.descendants(holders)


def _pid_in(tree: set[int], pids: list[int]) -> str:
    mine = sorted({_topmost(pid) for pid in pids if pid in tree})
    return ",".join(map(str, mine)) or "-"


def _worker_of(args: list[str], name: str) -> bool:
    """Whether ``args`` run service ``name``'s Celery worker (``celery … worker … -n name@…``)."""
    named = args[args.index("-n") + 1] if "-n" in args[:-1] else ""
    return "worker" in args and named.startswith(f"{name}@")


def status() -> int:
    """Each service of this checkout's platform: its port, health, readiness, web and worker pid."""
    found = _platform_processes()
    if found is None:
        print(f"No platform of this checkout is running (data: {data_dir()}).")
        return 3
    main_pid, tree = found
    state = _read_state() or {}
    ports = state.get("ports") or {service.name: service.port for service in SERVICES}
    where = f"in the background, its log {state['log']}" if state.get("log") else "in a terminal"
    print(f"Platform pid {main_pid} of {REPO_ROOT}, {where}, since {state.get('started', '?')}:")
    print(f"  {'service':<10} {'port':<6} {'health':<10} {'ready':<26} {'web pid':<8} worker pid")
    workers = {pid: running.arguments(pid) for pid in tree}
    for name, port in ports.items():
        web = _pid_in(tree, running.listeners(port)[1])
        worker = _pid_in(tree, [pid for pid, args in workers.items() if _worker_of(args, name)])
        health, ready = _probe(port, "/healthz")[1], _probe(port, "/readyz")[1]
        print(f"  {name:<10} {port:<6} {health:<10} {ready:<26} {web:<8} {worker}")
    return 0


def down(grace: float = STOP_GRACE) -> int:
    """Stop this checkout's platform: SIGTERM (to its process group when it leads one, as in the
    background), then, after ``grace``, SIGKILL to whatever of it remains; nothing stays behind."""
    found = _platform_processes()
    if found is None:
        print("No platform of this checkout is running.")
        return 0
    main_pid, tree = found
    if running.group(main_pid) == main_pid:
        os.killpg(main_pid, signal.SIGTERM)
    else:
        os.kill(main_pid, signal.SIGTERM)
    remaining = _wait_gone(tree, grace)
    if remaining:
        print(f"still running after {grace:.0f} s, killed: {sorted(remaining)}")
        for group in {running.group(pid) for pid in remaining} & tree:
            os.killpg(group, signal.SIGKILL)
        for pid in remaining:
            os.kill(pid, signal.SIGKILL)
        remaining = _wait_gone(tree, 5.0)
    print(f"Stopped the platform pid {main_pid} ({len(tree)} processes).")
    return 1 if remaining else 0


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = {pid for pid in pids if running.alive(pid)}
        if not remaining or time.monotonic() > deadline:
            return remaining
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service_kit.platform")
    parser.add_argument("command", choices=["up", "status", "down", "migrate", "procfile"])
    parser.add_argument("services", nargs="*", help="only these (default: all)")
    parser.add_argument("--detach", action="store_true", help="up: run in the background")
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)  # up, started by --detach
    args = parser.parse_args(argv)
    chosen = [BY_NAME[name] for name in args.services] if args.services else SERVICES
    if args.command == "migrate":
        migrate(chosen)
    elif args.command == "procfile":
        for name, command, cwd, _ in processes(chosen):
            print(f"{name}: cd {cwd.relative_to(REPO_ROOT)} && {subprocess.list2cmdline(command)}")
    elif args.command == "status":
        return status()
    elif args.command == "down":
        return down()
    else:
        return up(chosen, detach=args.detach, log=args.log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
