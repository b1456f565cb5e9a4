"""Real processes for tests and benchmarks: services started as they run in production.

    harness = Harness(tmp_path, profile="real")
    web = harness.start_web(BY_NAME["product"])
    worker = harness.start_worker(BY_NAME["product"])
    ...
    harness.stop_all()

Every address the processes use is the harness's own: each platform service gets a port of the
harness's (held until its web process starts there, see :meth:`Harness.port_for`), and every
process is told those (``<NAME>_SERVICE_URL``), started or not. A platform running on the default
ports beside the tests (``make up``) is never reached.

Each project gets its own database (PostgreSQL ``t_<run>_<name>`` in the real profile, SQLite under
the harness folder in the embedded one), migrated before its first process starts. Processes log to
``<folder>/logs``; a failed start shows the log's tail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from service_kit.conf import SERVICE_PORTS
from service_kit.platform import Service

from . import backing
from .mail import MailSink

TEST_SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"


#: Migrated databases kept as templates in this process: (service folder, deciding environment)
#: → the template's database name (Harness.migrate).
_templates: dict[tuple, str] = {}
#: The suffixes of the harnesses alive in this process: "" (the run's own names) for the first.
_suffixes: set[str] = set()


def _take_suffix() -> str:
    with _templates_lock:
        names = ("" if n == 1 else f"_h{n}" for n in itertools.count(1))
        suffix = next(name for name in names if name not in _suffixes)
        _suffixes.add(suffix)
        return suffix


_templates_lock = threading.Lock()
#: Variables a migration's outcome never depends on: where this harness's processes find things.
_PER_HARNESS = {"PLATFORM_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "CACHE_KEY_PREFIX"}


def _deciding(environment: dict[str, str]) -> dict[str, str]:
    """The environment without the harness's own addresses and folders, nor pytest's
    per-test variables: what a migration's outcome may depend on."""
    return {
        name: value
        for name, value in environment.items()
        if name not in _PER_HARNESS and not name.endswith("_URL") and not name.startswith("PYTEST_")
    }


def wait_for(predicate, timeout: float = 30.0, *, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it answers something true (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def node_named(command: list[str], node: str) -> list[str]:
    """A Celery worker command with another node name (``-n``): a second worker of a service on
    one host, as a second pod's host name gives it (the broker lets a service's user declare
    only queues named after it, so keep ``<service>@``)."""
    at = command.index("-n")
    return [*command[: at + 1], node, *command[at + 2 :]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - argv built by the harness (this interpreter and a server), no shell
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_http(self, path: str = "/readyz", timeout: float = 60.0) -> Proc:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready at {path}: {last}\n{self.tail()}")

    def wait_log(self, text: str, timeout: float = 60.0) -> Proc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return self
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not log {text!r}:\n{self.tail()}")

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (warm shutdown), then SIGKILL if it does not end in time."""
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.popen is not None:
            self.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)


class Harness:
    """Starts projects as real processes on one profile, each isolated for this test run."""

    def __init__(
        self,
        folder: Path,
        *,
        profile: str = "real",
        env: dict[str, str] | None = None,
        broker_url: str | None = None,
        rabbitmqctl=None,
    ):
        self.folder = Path(folder)
        self.profile = profile
        self.extra_env = dict(env or {})
        self.broker_url = broker_url
        # rabbitmqctl of the broker at broker_url when it is not the shared one (RabbitMQNode.ctl)
        self.rabbitmqctl = rabbitmqctl
        self.procs: list[Proc] = []
        self._databases: dict[str, str] = {}
        # Two harnesses alive in one process (the end-to-end run's own platform and a second one
        # a test boots beside it) never share, drop or re-create each other's databases, vhost
        # or cache keys: the second names its own with a suffix.
        self.suffix = _take_suffix()
        self._mail: MailSink | None = None
        self._ports: dict[str, int] = {}
        self._held: dict[str, socket.socket] = {}
        self._ports_lock = threading.Lock()

    @property
    def mail(self) -> MailSink:
        """Where the run's processes send mail on the real profile (which needs a transport)."""
        if self._mail is None:
            self._mail = MailSink()
        return self._mail

    # -- addresses -------------------------------------------------------------------------
    def port_for(self, name: str) -> int:
        """The port service ``name``'s first web process takes here. Chosen free when first
        asked and held until then: bound but not listening, so a call to a service that is not
        started is refused at once, and no other program's socket takes the port meanwhile."""
        with self._ports_lock:
            if name not in self._ports:
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                self._held[name] = sock
                self._ports[name] = sock.getsockname()[1]
            return self._ports[name]

    def upstreams(self) -> dict[str, str]:
        """``<NAME>_SERVICE_URL`` of every platform service, on this harness's ports."""
        return {
            f"{name.upper()}_SERVICE_URL": f"http://127.0.0.1:{self.port_for(name)}"
            for name in SERVICE_PORTS
        }

    def _take_port(self, name: str) -> int:
        """The held port for ``name``'s first web process, released for it to bind; a fresh
        free port for any later one (a second instance, a restart)."""
        self.port_for(name)
        with self._ports_lock:
            held = self._held.pop(name, None)
        if held is None:
            return free_port()
        held.close()
        return self._ports[name]

    def _release_ports(self) -> None:
        with self._ports_lock:
            for sock in self._held.values():
                sock.close()
            self._held.clear()

    # -- environment -----------------------------------------------------------------------
    def env_for(self, service: Service, **overrides: str) -> dict[str, str]:
        data = self.folder / "data"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"{service.project}.settings",
            "PLATFORM_DATA_DIR": str(data),
            "PROMETHEUS_MULTIPROC_DIR": str(self.folder / "metrics" / service.name),
            "SECRET_KEY": TEST_SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
            "OUTBOX_SWEEP_INTERVAL": "1",
            "OUTBOX_SWEEP_AGE": "1",
            "MESSAGING_RETRY_BACKOFF": "0.2",
            # every upstream on this harness's ports, never the defaults a `make up` may hold
            **self.upstreams(),
        }
        if self.profile == "real":
            env.update(
                PLATFORM_PROFILE="real",
                DATABASE_URL=self.database_for(service),
                CACHE_URL=backing.REDIS_URL,
                CACHE_KEY_PREFIX=backing.cache_prefix(self.suffix),
                CELERY_BROKER_URL=self.broker_url or backing.create_vhost(self.suffix),
                EMAIL_URL=self.mail.url,
            )
        else:
            for name in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "PLATFORM_PROFILE"):
                env.pop(name, None)
        env.update(self.extra_env)
        env.update(overrides)
        if self.profile == "real":
            # As in production: each service on the broker as its own user (consumers check it).
            env["CELERY_BROKER_URL"] = backing.service_broker_url(
                service.name, env["CELERY_BROKER_URL"], self.rabbitmqctl
            )
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        return env

    def broker_url_for(self, service: Service) -> str:
        """The broker URL ``service``'s processes use (its own user, in this run's vhost)."""
        url = self.broker_url or backing.create_vhost(self.suffix)
        return backing.service_broker_url(service.name, url, self.rabbitmqctl)

    def queues_drained(self, *queues: str) -> bool:
        """Whether the broker holds nothing for ``queues`` (none ready, none unacknowledged).
        The embedded profile's broker is a folder (kombu's filesystem transport): a queue is
        drained when no message file for it is left (a consumer takes the file as it fetches)."""
        from urllib.parse import urlsplit

        if self.profile != "real":
            folder = self.folder / "data" / "broker" / "queue"
            suffixes = tuple(f".{queue}.msg" for queue in queues)
            return not any(path.name.endswith(suffixes) for path in folder.glob("*.msg"))

        vhost = urlsplit(self.broker_url or backing.create_vhost(self.suffix)).path.lstrip("/")
        depths = backing.queue_depths(vhost, self.rabbitmqctl)
        missing = [queue for queue in queues if queue not in depths]
        assert not missing, f"no such queue(s) in {vhost}: {missing}"
        return all(depths[queue] == 0 for queue in queues)

    def wait_drained(self, *queues: str, timeout: float = 30.0) -> None:
        """Wait until the broker has handed out every message of ``queues`` and had each one
        acknowledged: what a test proves "nothing more arrives" with, instead of waiting."""
        wait_for(
            lambda: self.queues_drained(*queues),
            timeout,
            interval=0.2,
            what=f"the broker's {', '.join(queues)} drained and acknowledged",
        )

    def database_key(self, service: Service) -> str:
        """The name ``backing`` makes this harness's database of ``service`` from."""
        return f"{service.name}{self.suffix}"

    def database_for(self, service: Service) -> str:
        if service.name not in self._databases:
            self._databases[service.name] = backing.create_database(self.database_key(service))
        return self._databases[service.name]

    def query(self, service: Service, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from one service's own database, read as an outsider (the test) would; ``?``
        marks a parameter on either profile."""
        if self.profile == "real":
            import psycopg

            with psycopg.connect(self.database_for(service), autocommit=True) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        path = self.folder / "data" / f"{service.name}.sqlite3"
        with contextlib.closing(sqlite3.connect(path, timeout=20)) as conn, conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, service: Service, sql: str, params: tuple = ()) -> None:
        """One statement on a service's own database, committed."""
        if self.profile == "real":
            import psycopg

            with psycopg.connect(self.database_for(service), autocommit=True) as conn:
                conn.execute(sql.replace("?", "%s"), params)
            return
        path = self.folder / "data" / f"{service.name}.sqlite3"
        with contextlib.closing(sqlite3.connect(path, timeout=20)) as conn, conn:
            conn.execute(sql, params)

    def manage(self, service: Service, *args: str, timeout: float = 180, **env: str) -> str:
        """``manage.py <args>`` of a service, with its processes' environment; its stdout."""
        result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", *args],
            cwd=service.path,
            env=self.env_for(service, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise RuntimeError(
                f"{service.name}: manage.py {args[0]} failed:\n{result.stdout[-2000:]}"
                f"{result.stderr[-3000:]}"
            )
        return result.stdout.strip()

    def migrate(self, service: Service, **env: str) -> None:
        """``manage.py migrate``. On the real profile a fresh database of the harness's own is
        migrated once a process for the same code and settings: that first one is kept as a
        template, and the next is a copy of it (``CREATE DATABASE … TEMPLATE``, a fraction of a
        second, instead of a process applying every migration again). What decides the outcome
        is the service's code and its environment; this harness's addresses (``*_URL``) and
        folders do not."""
        environment = self.env_for(service, **env)
        url = environment.get("DATABASE_URL", "")
        own = self.profile == "real" and url == self.database_for(service)
        if not own or not backing.is_empty_database(url):
            self.manage(service, "migrate", "--noinput", "-v", "0", **env)
            return
        key = (str(service.path.resolve()), *sorted(_deciding(environment).items()))
        database = urlsplit(url).path.lstrip("/")
        with _templates_lock:
            template = _templates.get(key)
        if template:
            backing.copy_database(template, database)
            return
        self.manage(service, "migrate", "--noinput", "-v", "0", **env)
        template = backing.keep_as_template(database)
        with _templates_lock:
            _templates.setdefault(key, template)

    # -- processes -------------------------------------------------------------------------
    def start_web(
        self,
        service: Service,
        *,
        port: int | None = None,
        wait: bool = True,
        migrate: bool = True,
        threads: int = 4,
        workers: int = 1,
        **env: str,
    ) -> Proc:
        if migrate:
            self.migrate(service, **env)
        port = port or self._take_port(service.name)
        proc = Proc(
            f"{service.name}.web",
            # as the container runs it: on SIGTERM, requests in flight get 30 s to finish
            service.web_command(
                port=port,
                threads=threads,
                workers=workers,
                options=("--workers-kill-timeout", "30"),
            ),
            service.path,
            self.env_for(service, **env),
            self.folder / "logs" / f"{service.name}.web.log",
            port=port,
        ).start()
        self.procs.append(proc)
        return proc.wait_http() if wait else proc

    def start_worker(
        self,
        service: Service,
        *,
        wait: bool = True,
        migrate: bool = False,
        beat: bool = True,
        **env: str,
    ) -> Proc:
        if migrate:
            self.migrate(service, **env)
        proc = Proc(
            f"{service.name}.worker",
            service.worker_command(embedded_beat=beat),
            service.path,
            self.env_for(service, **env),
            self.folder / "logs" / f"{service.name}.worker.log",
        ).start()
        self.procs.append(proc)
        return proc.wait_log(" ready.") if wait else proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def cleanup(self) -> None:
        self.stop_all()
        self._release_ports()
        if self._mail is not None:
            self._mail.close()
            self._mail = None
        if self.profile == "real" and self._databases:

            def drop(name: str) -> None:
                with contextlib.suppress(Exception):
                    backing.drop_database(name)

            # side by side: one at a time takes half a minute on a busy server
            with ThreadPoolExecutor(max_workers=len(self._databases)) as pool:
                list(pool.map(drop, [f"{name}{self.suffix}" for name in self._databases]))
            self._databases.clear()
        if self.suffix:  # a second platform's own vhost and cache keys (the run's own: its end)
            with contextlib.suppress(Exception):
                backing.delete_vhost(self.suffix)
            with contextlib.suppress(Exception):
                backing.flush_cache_prefix(self.suffix)
        _suffixes.discard(self.suffix)
