"""The platform as a whole: which services there are, and the commands that run them all.

``python -m service_kit.platform up`` migrates every database and starts every web process and
worker (``make up``); ``migrate`` only migrates; ``procfile`` prints the process list.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .conf import REPO_ROOT, SERVICE_PORTS, data_dir


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

    def manage(self, *args: str, env: dict | None = None, check: bool = True, **kwargs):
        return subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", *args], cwd=self.path, env=env, check=check, **kwargs
        )


SERVICES = [
    Service("gateway", "gateway", SERVICE_PORTS["gateway"], worker=False),
    Service("auth", "auth_service", SERVICE_PORTS["auth"]),
    Service("user", "user_service", SERVICE_PORTS["user"]),
    Service("product", "product_service", SERVICE_PORTS["product"]),
    Service("inventory", "inventory_service", SERVICE_PORTS["inventory"]),
    Service("order", "order_service", SERVICE_PORTS["order"]),
    Service("payment", "payment_service", SERVICE_PORTS["payment"]),
]
BY_NAME = {s.name: s for s in SERVICES}


def _bin(name: str) -> str:
    """A console script of this virtualenv."""
    return str(Path(sys.executable).with_name(name))


def migrate(services=SERVICES) -> None:
    for service in services:
        print(f"migrating {service.name}", flush=True)
        service.manage("migrate", "--noinput", "-v", "0")


def prepare(services=SERVICES) -> None:
    """Each service's ``prepare`` (migrate, demo data, static files), the services side by side:
    seven Django starts in parallel instead of twenty-one in a row. Stops at the first failure."""

    def one(service: Service) -> tuple[Service, subprocess.CompletedProcess]:
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


def processes(services=SERVICES) -> list[tuple[str, list[str], Path, dict[str, str]]]:
    result = []
    for service in services:
        env = {"PROMETHEUS_MULTIPROC_DIR": str(data_dir() / "metrics" / service.name)}
        result.append((f"{service.name}.web", service.web_command(), service.path, env))
        if service.worker:
            result.append((f"{service.name}.worker", service.worker_command(), service.path, env))
    return result


def up(services=SERVICES) -> int:
    from honcho.manager import Manager

    prepare(services)
    for service in services:
        # Counters restart with the processes: stale files of dead ones must not add up.
        shutil.rmtree(data_dir() / "metrics" / service.name, ignore_errors=True)
        (data_dir() / "metrics" / service.name).mkdir(parents=True)
    manager = Manager()
    for name, command, cwd, env in processes(services):
        manager.add_process(
            name, subprocess.list2cmdline(command), cwd=str(cwd), env={**os.environ, **env}
        )
    print("\nThe platform (embedded profile), Ctrl-C stops it:")
    for service in services:
        print(
            f"  {service.name:<10} http://127.0.0.1:{service.port}/  "
            f"(health /healthz, ready /readyz, docs /api/docs/, admin /admin/)"
        )
    print(flush=True)
    manager.loop()
    return manager.returncode or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service_kit.platform")
    parser.add_argument("command", choices=["up", "migrate", "procfile"])
    parser.add_argument("services", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    chosen = [BY_NAME[name] for name in args.services] if args.services else SERVICES
    if args.command == "migrate":
        migrate(chosen)
    elif args.command == "procfile":
        for name, command, cwd, _ in processes(chosen):
            print(f"{name}: cd {cwd.relative_to(REPO_ROOT)} && {subprocess.list2cmdline(command)}")
    else:
        return up(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
