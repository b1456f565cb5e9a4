"""Real processes for tests and benchmarks: services started as they run in production.

    harness = Harness(tmp_path, profile="real")
    web = harness.start_web(BY_NAME["product"])
    worker = harness.start_worker(BY_NAME["product"])
    ...
    harness.stop_all()

Each project gets its own database (PostgreSQL ``t_<run>_<name>`` in the real profile, SQLite under
the harness folder in the embedded one), migrated before its first process starts. Processes log to
``<folder>/logs``; a failed start shows the log's tail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from service_kit.platform import Service

from . import backing
from .mail import MailSink

TEST_SECRET_KEY = "test-only-secret-key-not-for-production-0123456789abcdef"


def wait_for(predicate, timeout: float = 30.0, *, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it answers something true (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
        self._mail: MailSink | None = None

    @property
    def mail(self) -> MailSink:
        """Where the run's processes send mail on the real profile (which needs a transport)."""
        if self._mail is None:
            self._mail = MailSink()
        return self._mail

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
        }
        if self.profile == "real":
            env.update(
                PLATFORM_PROFILE="real",
                DATABASE_URL=self.database_for(service),
                CACHE_URL=backing.REDIS_URL,
                CACHE_KEY_PREFIX=backing.cache_prefix(),
                CELERY_BROKER_URL=self.broker_url or backing.create_vhost(),
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
        url = self.broker_url or backing.create_vhost()
        return backing.service_broker_url(service.name, url, self.rabbitmqctl)

    def database_for(self, service: Service) -> str:
        if service.name not in self._databases:
            self._databases[service.name] = backing.create_database(service.name)
        return self._databases[service.name]

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
        self.manage(service, "migrate", "--noinput", "-v", "0", **env)

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
        port = port or free_port()
        proc = Proc(
            f"{service.name}.web",
            service.web_command(port=port, threads=threads, workers=workers),
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
        if self._mail is not None:
            self._mail.close()
            self._mail = None
        if self.profile == "real" and self._databases:

            def drop(name: str) -> None:
                with contextlib.suppress(Exception):
                    backing.drop_database(name)

            # side by side: one at a time takes half a minute on a busy server
            with ThreadPoolExecutor(max_workers=len(self._databases)) as pool:
                list(pool.map(drop, list(self._databases)))
            self._databases.clear()
