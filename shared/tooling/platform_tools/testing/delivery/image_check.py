"""``make image-check``: the image's final stage rehearsed without a Docker engine.

What ``shared/docker/Dockerfile`` does, done here in a clean virtualenv, for every service:

1. **build**: a virtualenv with ``requirements/production.txt`` only (wheels only, as the image
   installs them; cached under ``var/image-check/`` by the requirements' hash), the image's
   ``/app`` staged from the build context (``.dockerignore`` applied: no tests, no test kit),
   ``collectstatic`` and ``compileall`` as the build stage runs them;
2. **run**, with the final stage's ``ENV`` (read from the Dockerfile; ``/app``, ``/tmp`` and
   ``/opt/venv`` mapped to folders of this run) and a production environment on this machine's
   PostgreSQL (a throwaway database per service), Redis (a key prefix) and RabbitMQ (a vhost):
   ``check --deploy --fail-level WARNING``, the image's ``migrate``, ``web`` until ``/readyz``
   answers 200 and the image's HEALTHCHECK passes, ``worker`` until its metrics answer on their
   port, ``beat`` until it starts; the gateway last, its ``/status`` over every other service.

Nothing may be written under the staged ``/app`` once built (the image's root filesystem may be
read-only). Prints a table; exits 1 when anything failed. Everything the run made is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES, Service

from .. import backing
from ..mail import MailSink
from ..processes import Proc, free_port
from . import images

REQUIREMENTS = ("requirements/base.txt", "requirements/production.txt")
PUBLIC_HOST = "shop.example.com"
STEPS = ("collectstatic", "check --deploy", "migrate", "web", "worker", "beat")


@dataclass
class Outcome:
    service: Service
    steps: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def record(self, step: str, started: float, error: str | None = None) -> bool:
        seconds = time.monotonic() - started
        self.steps[step] = f"FAIL {seconds:.1f}s" if error else f"ok {seconds:.1f}s"
        if error:
            self.errors.append(f"{self.service.folder} {step}: {error.strip()[-3000:]}")
        return error is None


# -- build ------------------------------------------------------------------------------------
def switch_user(uid: int | None) -> list[str]:
    """The command prefix that runs a command as ``uid`` (empty when we cannot switch)."""
    if os.geteuid() != 0 or not uid or not shutil.which("setpriv"):
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def python_version(python: str, prefix: list[str] = ()) -> str | None:
    probe = [*prefix, python, "-c", "import sys; print(sys.version)"]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)  # noqa: S603 - argv built here from a found binary and fixed arguments
    return result.stdout.strip() if result.returncode == 0 else None


def interpreter(as_user: list[str]) -> str:
    """A Python 3.11 for the clean virtualenv: this one's base, or else a system one the image's
    user can run too (one installed under root's home is not readable by it)."""
    mine = getattr(sys, "_base_executable", sys.executable)
    for python in (mine, "/usr/local/bin/python3.11", "/usr/bin/python3.11"):
        version = Path(python).exists() and python_version(python)
        if version and version.startswith("3.11.") and python_version(python, as_user) == version:
            return python
    return mine


def venv(root: Path, python: str) -> Path:
    """A virtualenv of ``python`` with the production requirements only, made once per
    interpreter and requirements set."""
    digest = hashlib.sha256(f"{python} {python_version(python)}".encode())
    for name in REQUIREMENTS:
        digest.update((root / name).read_bytes())
    folder = root / "var" / "image-check" / f"venv-{digest.hexdigest()[:12]}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    for old in folder.parent.glob("venv-*"):  # earlier requirements' (and this one, half made)
        shutil.rmtree(old, ignore_errors=True)
    print(f"installing requirements/production.txt into a clean virtualenv ({folder.name})")
    subprocess.run([python, "-m", "venv", str(folder)], check=True)  # noqa: S603 - argv built here from a found binary and fixed arguments
    # The image's install: no cache, wheels only (the final image has no compiler).
    result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [
            *(str(folder / "bin" / "pip"), "install", "--no-cache-dir", "--only-binary=:all:"),
            *("--disable-pip-version-check", "-r", str(root / "requirements" / "production.txt")),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"pip install failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    stamp.touch()
    return folder


def stage(root: Path, service: Service, app: Path) -> None:
    """The image's ``/app``: the kit, every producer's message contracts and the service
    folder, as the build context holds them."""
    patterns = images.ignore_patterns((root / images.DOCKERIGNORE).read_text())

    def ignore(directory: str, names: list[str]) -> list[str]:
        relative = Path(directory).relative_to(root)
        return [n for n in names if images.ignored(str(relative / n), patterns)]

    shutil.copytree(root / "shared" / "service_kit", app / "shared" / "service_kit", ignore=ignore)
    for contracts in root.glob("*/contracts/messages"):
        shutil.copytree(contracts, app / contracts.relative_to(root), ignore=ignore)
    shutil.copytree(root / service.folder, app / service.folder, ignore=ignore, dirs_exist_ok=True)


def image_env(root: Path, service: Service, places: dict[str, Path]) -> dict[str, str]:
    """The final stage's ``ENV``, read from the Dockerfile, with the image's paths mapped."""
    args, stages = images.parse((root / images.DOCKERFILE).read_text())
    values = {**args, "SERVICE": service.folder, "PATH": "/usr/local/bin:/usr/bin:/bin"}
    result: dict[str, str] = {}
    for ins in stages[-1].all("ENV"):
        for word in shlex.split(ins.args):
            name, _, value = word.partition("=")
            value = images._expand(value, {**values, **result})
            # One pass: the folders standing in for them may themselves be under /tmp.
            result[name] = re.sub(
                r"(?<![\w/])(/app|/tmp|/opt/venv)(?=/|:|$)",
                lambda m: str(places[m.group(1)]),
                value,
            )
    return result


def image_uid(root: Path) -> int | None:
    """The numeric uid the final stage runs as (``USER 10001:10001``)."""
    users = images.parse((root / images.DOCKERFILE).read_text())[1][-1].all("USER")
    uid = users[-1].args.split(":")[0] if users else ""
    return int(uid) if uid.isdigit() else None


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# -- run --------------------------------------------------------------------------------------
def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> str | None:
    """None when the command succeeds, else what it printed."""
    result = subprocess.run(  # noqa: S603 - argv built by this module's callers, no shell
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    return (
        None
        if result.returncode == 0
        else f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    )


def wait_http(proc: Proc, url: str, timeout: float = 90) -> str | None:
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        if not proc.alive():
            return f"exited ({proc.popen.returncode}):\n{proc.tail()}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return None
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    return f"{url} did not answer 200: {last}\n{proc.tail()}"


class Rehearsal:
    def __init__(self, root: Path, folder: Path, python: Path):
        self.root, self.folder, self.python = root, folder, python
        self.procs: list[Proc] = []
        self.databases: list[str] = []
        self.outcomes: dict[str, Outcome] = {}
        self.secret_key = secrets.token_urlsafe(64)
        self.vhost = backing.create_vhost()
        self.mail = MailSink()  # the real profile needs a mail transport (SMTP, as in production)
        self.web_urls: dict[str, str] = {}
        # The final stage's USER: processes run as it where we can switch users, so that, as
        # in the image, the code is not theirs to write.
        self.uid = image_uid(root)
        self.as_user = switch_user(self.uid)
        if self.as_user and python_version(str(python), self.as_user) != python_version(
            str(python)
        ):
            print(f"processes run as this user: uid {self.uid} cannot run {python}")
            self.as_user = []
        if self.as_user:
            folder.chmod(0o755)
            print(f"processes run as uid {self.uid}, the image's user", flush=True)

    def app(self, service: Service) -> Path:
        return self.folder / service.folder / "app"

    def env(self, service: Service, **extra: str) -> dict[str, str]:
        base = self.folder / service.folder
        places = {
            "/app": base / "app",
            "/tmp": base / "tmp",  # noqa: S108 - the image's /tmp, mapped to this run's
            "/opt/venv": self.python.parent.parent,
        }
        env = {
            "HOME": str(base / "tmp"),
            "LANG": "C.UTF-8",
            **image_env(self.root, service, places),
            # What the chart gives every service in production.
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": f"{PUBLIC_HOST},127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
            "DATABASE_URL": backing.database_url(service.name),
            "CACHE_URL": backing.REDIS_URL,
            "CACHE_KEY_PREFIX": backing.cache_prefix(),
            "CELERY_BROKER_URL": self.vhost,
            "EMAIL_URL": self.mail.url,
            "LOG_LEVEL": "WARNING",
            "WEB_WORKERS": "1",  # one granian process shows the command works; saves the CPU
            **{f"{name.upper()}_SERVICE_URL": url for name, url in self.web_urls.items()},
        }
        if "auth" in self.web_urls:
            env["JWT_JWKS_URL"] = f"{self.web_urls['auth']}/.well-known/jwks.json"
        if service.name == "auth":
            env["JWT_AUTO_KEY"] = "1"  # production mounts its signing key; a rehearsal makes one
            env["JWT_SIGNING_KEYS_DIR"] = str(base / "tmp" / "keys")
        if not (base / "tmp").exists():
            (base / "tmp").mkdir(parents=True)
            if self.as_user:
                os.chown(base / "tmp", self.uid, self.uid)
        env.update(extra)
        return env

    def entrypoint(self, service: Service, role: str) -> list[str]:
        return [*self.as_user, str(self.python), "-m", "service_kit.entrypoints", role]

    def build(self, service: Service) -> bool:
        outcome = self.outcomes.setdefault(service.name, Outcome(service))
        app = self.app(service)
        stage(self.root, service, app)
        started = time.monotonic()
        # The build stage's RUN: the embedded profile, scratch data outside /app.
        env = {
            "PATH": f"{self.python.parent}:/usr/bin:/bin",
            "HOME": str(self.folder),
            "PYTHONPATH": str(app / "shared"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PLATFORM_DATA_DIR": str(self.folder / service.folder / "build"),
            "STATIC_ROOT": str(app / "static"),
            "DJANGO_SETTINGS_MODULE": f"{service.project}.settings",
        }
        cwd = app / service.folder
        error = run(
            [str(self.python), "manage.py", "collectstatic", "--noinput", "-v", "0"], env, cwd
        )
        if error is None and not any((app / "static").rglob("*.css")):
            error = "collectstatic collected no stylesheets"
        error = error or run([str(self.python), "-m", "compileall", "-q", str(app)], env, cwd)
        return outcome.record("collectstatic", started, error)

    def prepare(self, service: Service) -> bool:
        outcome = self.outcomes[service.name]
        cwd = self.app(service) / service.folder
        env = self.env(service)
        started = time.monotonic()
        error = run(
            [*self.entrypoint(service, "manage"), "check", "--deploy", "--fail-level", "WARNING"],
            env,
            cwd,
        )
        outcome.record("check --deploy", started, error)
        started = time.monotonic()
        backing.create_database(service.name)
        self.databases.append(service.name)
        error = run(self.entrypoint(service, "migrate"), env, cwd)
        # A failed check is reported; the processes are still tried, to report them too.
        return outcome.record("migrate", started, error)

    def start(self, service: Service, role: str, **extra: str) -> Proc:
        env = self.env(service, **extra)
        proc = Proc(
            f"{service.name}.{role}",
            self.entrypoint(service, role),
            self.app(service) / service.folder,
            env,
            self.folder / "logs" / f"{service.name}.{role}.log",
            port=int(env["PORT"]) if role == "web" else None,
        ).start()
        self.procs.append(proc)
        return proc

    def web(self, service: Service) -> None:
        outcome = self.outcomes[service.name]
        started = time.monotonic()
        proc = self.start(service, "web", PORT=str(free_port()))
        # The gateway's /readyz is its own; its /status asks every service rehearsed before it.
        path = "/status" if service.name == "gateway" else "/readyz"
        error = wait_http(proc, f"{proc.url}{path}")
        if error is None:
            # The image's HEALTHCHECK, run as Docker runs it: in the container's environment.
            error = run(
                [*self.entrypoint(service, "healthcheck"), "web"], proc.env, proc.cwd, timeout=30
            )
        if outcome.record("web", started, error):
            self.web_urls[service.name] = proc.url

    def worker(self, service: Service) -> None:
        outcome = self.outcomes[service.name]
        started = time.monotonic()
        port = str(free_port())
        proc = self.start(service, "worker", WORKER_METRICS_PORT=port, LOG_LEVEL="INFO")
        error = wait_http(proc, f"http://127.0.0.1:{port}/metrics")
        if error is None:
            with contextlib.suppress(TimeoutError, RuntimeError):
                proc.wait_log(" ready.", timeout=60)
            if " ready." not in proc.log.read_text(errors="replace"):
                error = f"the worker did not become ready:\n{proc.tail()}"
        if error is None:
            error = run(
                [*self.entrypoint(service, "healthcheck"), "worker"], proc.env, proc.cwd, timeout=30
            )
        outcome.record("worker", started, error)

    def beat(self, service: Service) -> None:
        outcome = self.outcomes[service.name]
        started = time.monotonic()
        proc = self.start(service, "beat", LOG_LEVEL="INFO")
        error = None
        try:
            proc.wait_log("beat: Starting", timeout=60)
        except (TimeoutError, RuntimeError) as exc:
            error = str(exc)
        outcome.record("beat", started, error)

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.mail.close()
        for name in self.databases:
            with contextlib.suppress(Exception):
                backing.drop_database(name)
        with contextlib.suppress(Exception):
            backing.delete_vhost()
        with contextlib.suppress(Exception):
            backing.flush_cache_prefix()


def rehearse(root: Path = REPO_ROOT, services: list[Service] = SERVICES) -> list[Outcome]:
    as_user = switch_user(image_uid(root))
    python = venv(root, interpreter(as_user)) / "bin" / "python"
    folder = Path(tempfile.mkdtemp(prefix="image-check-"))
    rehearsal = Rehearsal(root, folder, python)
    # The gateway last: its /status asks every other service's /readyz.
    ordered = sorted(services, key=lambda s: s.name == "gateway")
    built: dict[str, set[str]] = {}

    def build_and_prepare(service: Service) -> bool:
        print(f"building {service.folder}", flush=True)
        if not rehearsal.build(service):
            return False
        built[service.name] = files_under(rehearsal.app(service))
        return rehearsal.prepare(service)

    try:
        # The builds take turns on two cores; the processes start one service at a time.
        with ThreadPoolExecutor(max_workers=2) as pool:
            prepared = dict(zip(ordered, pool.map(build_and_prepare, ordered), strict=True))
        for service in ordered:
            if not prepared[service]:
                continue
            print(f"starting {service.folder}", flush=True)
            rehearsal.web(service)
            if service.worker:
                rehearsal.worker(service)
                rehearsal.beat(service)
            written = sorted(files_under(rehearsal.app(service)) - built[service.name])
            if written:
                rehearsal.outcomes[service.name].errors.append(
                    f"{service.folder}: wrote under /app (read-only in production): "
                    + ", ".join(written[:10])
                )
        return [rehearsal.outcomes[s.name] for s in ordered if s.name in rehearsal.outcomes]
    finally:
        rehearsal.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| service | " + " | ".join(STEPS) + " |",
        "| --- | " + " | ".join("---" for _ in STEPS) + " |",
    ]
    for outcome in outcomes:
        cells = [outcome.steps.get(step, "-") for step in STEPS]
        lines.append(f"| {outcome.service.folder} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    missing = [name for name in ("postgres", "redis", "rabbitmq") if not backing.reachable(name)]
    if missing:
        print(f"image-check needs PostgreSQL, Redis and RabbitMQ; unreachable: {missing}")
        return 1
    started = time.monotonic()
    outcomes = rehearse()
    print()
    print(table(outcomes))
    errors = [error for outcome in outcomes for error in outcome.errors]
    for error in errors:
        print(f"\n{error}")
    print(f"\nimage-check: {len(errors)} failure(s) in {time.monotonic() - started:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
