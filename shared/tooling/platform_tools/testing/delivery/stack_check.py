"""``make images-check``: the seven service images built and the compose stack booted for real.

    python -m platform_tools.testing.delivery.stack_check

In order: Docker's engine and ``debootstrap`` installed with apt-get when ``dockerd`` is missing
(``platform_tools.testing.tools``); a private ``dockerd`` (its own data root, exec root, pid file
and socket; no bridge, no iptables rules, no ip forwarding) unless ``DOCKER_HOST`` names one that
answers; a Debian bookworm base image made by ``debootstrap --variant=minbase`` from the apt
mirror of this machine (read from its apt sources at run time); on it the stand-ins of
``compose/check/`` (Python, PostgreSQL, Redis, RabbitMQ, moto's S3 server); the seven services
built from ``shared/docker/Dockerfile`` as ``make images`` builds them, with the Python stand-in
as ``PYTHON_IMAGE``. Then the compose stack, with every third-party image given by its variable,
is booted and checked through the gateway's port on 127.0.0.1: every container healthy, the
one-shots exited 0, ``make smoke``, a customer's order confirmed and refunded by staff, a worker
killed and restarted losing no order, one service's broker user refused another's queue, the
platform's containers as uid 10001 with a read-only root where compose says so, ports on
127.0.0.1 only; ``docker-compose down -v`` then leaves nothing of the project. The private
engine is stopped by its pid at the end.

What is cached (under ``${XDG_CACHE_HOME:-~/.cache}/commerce-platform/images-check``): the base
image's root filesystem (a tarball keyed by suite, variant and mirror) and the private engine's
data root (its images and build cache; Docker's own cache keys rebuild what changed).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
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
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from django_otp.oath import hotp

from platform_tools.testing import tools
from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.smoke import Gateway, SmokeFailure
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES as PLATFORM_SERVICES

#: The seven service folders, one image each.
SERVICES = tuple(service.path.name for service in PLATFORM_SERVICES)
SUITE, VARIANT = "bookworm", "minbase"
#: Bump when base_image() makes the root filesystem differently (its cache key includes it).
BASE_RECIPE = 2
FIXTURES = REPO_ROOT / "compose" / "check"
COMPOSE_FILE = REPO_ROOT / "compose" / "docker-compose.yml"
CHECK_OVERRIDE = FIXTURES / "docker-compose.check.yml"
ENV_EXAMPLE = REPO_ROOT / "compose" / ".env.example"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
PLATFORM_UID = "10001"
PASSWORD = "Correct-Horse-Battery-9"
#: The third-party images of the core stack, and the stand-in (a fixture) each is given here.
STAND_INS = {
    "POSTGRES_IMAGE": "postgres",
    "REDIS_IMAGE": "redis",
    "RABBITMQ_IMAGE": "rabbitmq",
    "MINIO_IMAGE": "moto",
    "MAILPIT_IMAGE": "python",
    "BUSYBOX_IMAGE": "debian",
    "PROMETHEUS_IMAGE": "prometheus",
    "FLOWER_IMAGE": "flower",
}
#: Services of the profiles that run here too (started by name): Prometheus and Flower.
OPTIONAL = ("prometheus", "flower")
#: The profiles: their definitions are validated; of their services only Prometheus and Flower
#: run here (Elasticsearch, Logstash, Filebeat, Kibana, Grafana, the OpenTelemetry Collector and
#: Jaeger cannot be had).
VALIDATED_ONLY = ("observability", "ops")
ONE_SHOTS = re.compile(
    r"-migrate$|^auth-clients(-user)?$|^auth-gateway-client$|^auth-keys-init$|^auth-signing-key$"
    r"|^media-bucket$"
)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "commerce-platform" / "images-check"


def step(message: str) -> None:
    print(f"images-check: {message}", flush=True)


def run(argv: list[str], *, env: dict | None = None, quiet: bool = False, **kwargs):
    """Runs ``argv``; its output is shown when it fails (or always unless ``quiet``)."""
    result = subprocess.run(  # noqa: S603 - argv built here from fixed programs and arguments
        [str(a) for a in argv], env=env, capture_output=True, text=True, **kwargs
    )
    if result.returncode != 0:
        raise CheckFailed(
            f"{' '.join(map(str, argv[:6]))} exited {result.returncode}:\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )
    if not quiet and result.stdout.strip():
        print(result.stdout.rstrip(), flush=True)
    return result


class CheckFailed(Exception):
    pass


# -- the machine's apt mirror and pip index (pure helpers) ----------------------------------------
def apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[tuple[str, list[str]]]:
    """``(URI, suites)`` of every ``deb`` source: one-line ``sources.list`` files and deb822
    ``*.sources`` files (files with other endings, e.g. disabled ones, are not read by apt)."""
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    sources: list[tuple[str, list[str]]] = []
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.name == "sources.list" or path.suffix == ".list":
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    sources.append((words[1], [words[2]]))
        elif path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split() and fields.get("enabled") != "no":
                    for uri in fields.get("uris", "").split():
                        sources.append((uri, fields.get("suites", "").split()))
    return sources


def debian_mirror(sources: list[tuple[str, list[str]]], suite: str = SUITE) -> str:
    """The URI of the first source that serves ``suite`` itself (not -security or -updates)."""
    for uri, suites in sources:
        if suite in suites:
            return uri.rstrip("/")
    raise CheckFailed(f"no apt source serves {suite}: add one to the apt sources")


def pip_conf(config: str, cert: str) -> tuple[str, list[str]]:
    """A ``pip.conf`` for builds from ``pip config list``'s output: the host's network indexes
    (index-url, extra-index-url, trusted-host) and ``cert``. Local ones (file:// indexes,
    find-links folders) cannot be reached from a build: answered as the second item."""
    values: dict[str, str] = {}
    for line in config.splitlines():
        key, sep, value = line.partition("=")
        if sep and "." in key:  # PIP_* variables (":env:") win over the files' settings
            name, value = key.split(".", 1)[1].strip(), value.strip().strip("'\"")
            if key.startswith(":env:") or name not in values:
                values[name] = value
    network = ("http://", "https://")
    lines, left_out = ["[global]", f"cert = {cert}"], []
    for key in ("index-url", "extra-index-url", "trusted-host", "find-links"):
        kept = []
        for item in values.get(key, "").split():
            if key == "trusted-host" or item.startswith(network):
                kept.append(item)
            else:
                left_out.append(f"{key} {item}")
        if kept:
            lines.append(f"{key} = {' '.join(kept)}")
    return "\n".join(lines) + "\n", left_out


def image_defaults(compose_text: str) -> dict[str, str]:
    """``NAME_IMAGE`` → its default, for every image the compose file takes from a variable."""
    return dict(re.findall(r"image: \$\{([A-Z_]+_IMAGE):-([^}]+)\}", compose_text))


def env_file(example: str) -> str:
    """The example's settings with every ``change-me`` secret replaced by a random one."""
    return re.sub(r"=change-me[\w.~-]*", lambda _: "=" + secrets.token_hex(16), example)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the engine ------------------------------------------------------------------------------------
class Engine:
    """A Docker engine to use: the one ``DOCKER_HOST`` names if it answers, else a private
    ``dockerd`` started here (and stopped by its pid by :meth:`stop`)."""

    def __init__(self, cache: Path):
        self.cache = cache
        self.process: subprocess.Popen | None = None
        self.runtime: Path | None = None
        self.env = dict(os.environ, DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0")
        self.links_before: set[str] = set()

    def docker(self, *args, quiet: bool = True, **kwargs):
        return run(["docker", *args], env=self.env, quiet=quiet, **kwargs)

    def answers(self) -> bool:
        try:
            self.docker("version", timeout=20)
            return True
        except (CheckFailed, subprocess.TimeoutExpired):
            return False

    def start(self) -> None:
        if os.environ.get("DOCKER_HOST") and self.answers():
            step(f"using the engine at {os.environ['DOCKER_HOST']}")
            return
        self.links_before = links()
        self.runtime = Path(tempfile.mkdtemp(prefix="cp-docker-"))
        sock = self.runtime / "docker.sock"
        log = (self.runtime / "dockerd.log").open("w")
        argv = [
            shutil.which("dockerd") or "dockerd",
            f"--data-root={self.cache / 'docker'}",
            f"--exec-root={self.runtime / 'exec'}",
            f"--pidfile={self.runtime / 'docker.pid'}",
            f"--host=unix://{sock}",
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--storage-driver=overlay2",
        ]
        self.process = subprocess.Popen(  # noqa: S603 - dockerd with arguments built here
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.env["DOCKER_HOST"] = f"unix://{sock}"
        deadline = time.monotonic() + 60
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.runtime / "dockerd.log").read_text()[-3000:]
                raise CheckFailed(f"the private dockerd did not start:\n{tail}")
            time.sleep(0.5)
        step(f"private dockerd started (pid {self.process.pid})")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for link in links() - self.links_before:  # bridges of networks left behind, if any
            subprocess.run(["ip", "link", "delete", link], check=False)  # noqa: S603, S607 - ip from PATH
        if self.runtime:
            for mount in mounts_under(self.runtime):  # the engine's network namespaces
                subprocess.run(["umount", mount], check=False)  # noqa: S603, S607 - umount from PATH
            shutil.rmtree(self.runtime, ignore_errors=True)
        step(f"private dockerd stopped (pid {self.process.pid})")
        self.process = None

    def image_exists(self, tag: str) -> bool:
        try:
            self.docker("image", "inspect", tag)
            return True
        except CheckFailed:
            return False

    def build(self, tag: str, context: Path, dockerfile: Path, **args: str) -> float:
        started = time.monotonic()
        argv = ["build", "--network=host", "-q", "-f", dockerfile, "-t", tag]
        for name, value in args.items():
            argv += ["--build-arg", f"{name}={value}"]
        self.docker(*argv, context, timeout=900)
        return time.monotonic() - started


def mounts_under(folder: Path) -> list[str]:
    """Mount points below ``folder``, deepest first."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return sorted((p for p in points if p.startswith(f"{folder}/")), reverse=True)


def links() -> set[str]:
    result = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)  # noqa: S607 - ip from PATH
    return {
        line.split(":")[1].strip().split("@")[0]
        for line in result.stdout.splitlines()
        if ":" in line and re.search(r"\b(br-[0-9a-f]+|veth\w+)", line)
    }


# -- the images ------------------------------------------------------------------------------------
def base_image(engine: Engine, cache: Path) -> str:
    mirror = debian_mirror(apt_sources())
    # the recipe's version too: a cached root made by an older recipe is made again
    key = hashlib.sha256(f"{SUITE} {VARIANT} {mirror} {BASE_RECIPE}".encode()).hexdigest()[:12]
    tag = f"local/debian-{SUITE}-{VARIANT}:{key}"
    if engine.image_exists(tag):
        return tag
    tarball = cache / f"debian-{SUITE}-{VARIANT}-{key}.tar"
    if not tarball.exists():
        step(f"debootstrap --variant={VARIANT} {SUITE} from the apt sources' mirror")
        with tempfile.TemporaryDirectory(dir=cache) as root:
            run(["debootstrap", f"--variant={VARIANT}", SUITE, root, mirror], quiet=True)
            # without the downloaded packages and index files debootstrap leaves behind
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (Path(root) / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            run(["tar", "-C", root, "-cf", f"{tarball}.part", "."], quiet=True)
        os.replace(f"{tarball}.part", tarball)
    engine.docker("import", tarball, tag, timeout=300)
    return tag


def python_stand_in(engine: Engine, debian: str) -> str:
    config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    conf, left_out = pip_conf(config, "/etc/ssl/certs/host-ca-certificates.crt")
    if left_out:
        step(f"pip in builds: not reachable from a build, left out: {', '.join(left_out)}")
    with tempfile.TemporaryDirectory() as context:
        folder = Path(context)
        shutil.copy(FIXTURES / "python.Dockerfile", folder / "Dockerfile")
        shutil.copy(HOST_CA, folder / "host-ca-certificates.crt")
        (folder / "pip.conf").write_text(conf)
        tag = "local/platform-check-python:3.11-bookworm"
        seconds = engine.build(tag, folder, folder / "Dockerfile", DEBIAN_IMAGE=debian)
    step(f"built {tag} ({seconds:.0f} s)")
    return tag


def stand_ins(engine: Engine, debian: str, python: str) -> dict[str, str]:
    """The backing services' stand-ins: image variable → tag."""
    moto = re.search(
        r"^moto\[[\w,]+\]==([\w.]+)", (REPO_ROOT / "requirements/test.txt").read_text(), re.M
    )
    tags = {"python": python, "debian": debian}
    defaults = image_defaults(COMPOSE_FILE.read_text())
    for name in ("postgres", "redis", "rabbitmq", "moto", "prometheus", "flower"):
        tag = f"local/platform-check-{name}:bookworm"
        args = {"DEBIAN_IMAGE": debian, "PYTHON_IMAGE": python}
        if name == "moto":
            args["MOTO_VERSION"] = moto.group(1) if moto else "5.2.5"
        if name == "flower":
            args["FLOWER_VERSION"] = defaults["FLOWER_IMAGE"].rpartition(":")[2]
        seconds = engine.build(tag, FIXTURES, FIXTURES / f"{name}.Dockerfile", **args)
        step(f"built {tag} ({seconds:.0f} s)")
        tags[name] = tag
    return {variable: tags[name] for variable, name in STAND_INS.items()}


def service_images(engine: Engine, python: str, registry: str, tag: str) -> dict[str, float]:
    """The seven images, as ``make images`` builds them (the base image given)."""
    times = {}
    for service in SERVICES:
        times[service] = engine.build(
            f"{registry}/{service}:{tag}",
            REPO_ROOT,
            REPO_ROOT / "shared/docker/Dockerfile",
            SERVICE=service,
            PYTHON_IMAGE=python,
        )
        step(f"built {registry}/{service}:{tag} ({times[service]:.0f} s)")
    return times


def image_report(engine: Engine, registry: str, tag: str) -> None:
    for service in SERVICES:
        image = f"{registry}/{service}:{tag}"
        size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
        step(f"size {service}: {size / 1e6:.0f} MB")
    history = engine.docker(
        "history",
        "--no-trunc",
        "--format",
        "{{.Size}}\t{{.CreatedBy}}",
        "--human=false",
        f"{registry}/order_service:{tag}",
    ).stdout
    layers = sorted(
        (
            (int(size), what)
            for size, _, what in (line.partition("\t") for line in history.splitlines())
        ),
        reverse=True,
    )
    for size, what in layers[:4]:
        step(f"layer {size / 1e6:6.0f} MB  {' '.join(what.split())[:110]}")


# -- the stack -------------------------------------------------------------------------------------
class Stack:
    def __init__(
        self, engine: Engine, folder: Path, images: dict[str, str], registry: str, tag: str
    ):
        self.engine = engine
        self.project = f"cpcheck{uuid.uuid4().hex[:6]}"
        self.env_path = folder / "check.env"
        self.env_path.write_text(env_file(ENV_EXAMPLE.read_text()))
        self.settings = dict(
            line.split("=", 1)
            for line in self.env_path.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        self.port = free_port()
        self.env = dict(
            engine.env,
            **images,
            REGISTRY=registry,
            TAG=tag,
            COMPOSE_PROJECT_NAME=self.project,
            GATEWAY_PORT=str(self.port),
            PUBLIC_ORIGIN=f"http://127.0.0.1:{self.port}",
            RABBITMQ_UI_PORT=str(free_port()),
            MINIO_CONSOLE_PORT=str(free_port()),
            MAILPIT_UI_PORT=str(free_port()),
            PROMETHEUS_PORT=str(free_port()),
            FLOWER_PORT=str(free_port()),
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args, override: bool = True, **kwargs):
        files = ["-f", COMPOSE_FILE] + (["-f", CHECK_OVERRIDE] if override else [])
        return run(
            ["docker-compose", "--env-file", self.env_path, "-p", self.project, *files, *args],
            env=self.env,
            quiet=True,
            **kwargs,
        )

    def containers(self) -> list[dict]:
        ids = self.compose("ps", "-a", "-q").stdout.split()
        if not ids:
            return []
        return json.loads(self.engine.docker("inspect", *ids).stdout)

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.split()[0]

    def wait_healthy(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pending = []
            for c in self.containers():
                name = c["Config"]["Labels"]["com.docker.compose.service"]
                state = c["State"]
                if ONE_SHOTS.search(name):
                    if state["Status"] == "exited" and state["ExitCode"] != 0:
                        raise CheckFailed(f"{name} exited {state['ExitCode']}:\n{self.logs(name)}")
                    if state["Status"] != "exited":
                        pending.append(name)
                elif (
                    state.get("Health", {}).get("Status", "healthy") != "healthy"
                    or not state["Running"]
                ):
                    pending.append(
                        f"{name} ({state.get('Health', {}).get('Status', state['Status'])})"
                    )
            if not pending:
                return
            if time.monotonic() > deadline:
                raise CheckFailed(f"not healthy after {timeout:.0f} s: {', '.join(pending)}")
            time.sleep(3)

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", "--tail=40", service, check=False).stdout

    def manage(self, service: str, *args: str, stdin: str | None = None) -> str:
        return self.compose(
            "exec",
            "-T",
            service,
            "python",
            "-m",
            "service_kit.entrypoints",
            "manage",
            *args,
            input=stdin,
        ).stdout

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", timeout=300)


def check_containers(stack: Stack) -> str:
    """The platform's containers as uid 10001, read-only roots where compose says so, ports on
    127.0.0.1 only, the one-shots exited 0."""
    config = yaml.safe_load(stack.compose("config").stdout)["services"]
    problems, platform = [], 0
    for c in stack.containers():
        name = c["Config"]["Labels"]["com.docker.compose.service"]
        for bindings in (c["HostConfig"].get("PortBindings") or {}).values():
            problems += [
                f"{name} publishes on {b['HostIp'] or 'every address'}"
                for b in bindings or []
                if b["HostIp"] != "127.0.0.1"
            ]
        if ONE_SHOTS.search(name) and c["State"]["ExitCode"] != 0:
            problems.append(f"{name} exited {c['State']['ExitCode']}")
        if config[name].get("read_only") and not c["HostConfig"]["ReadonlyRootfs"]:
            problems.append(f"{name}: its root is writable, compose says read_only")
        if c["Config"]["Image"].startswith(stack.env["REGISTRY"] + "/") and c["State"]["Running"]:
            platform += 1
            uid = stack.engine.docker("exec", c["Id"], "id", "-u").stdout.strip()
            if uid != PLATFORM_UID:
                problems.append(f"{name} runs as uid {uid}")
            wrote = subprocess.run(  # noqa: S603 - docker from PATH, a container id of this run
                ["docker", "exec", c["Id"], "touch", "/app/probe"],  # noqa: S607
                env=stack.env,
                capture_output=True,
            )
            if config[name].get("read_only") and wrote.returncode == 0:
                problems.append(f"{name} could write to its root")
    if problems:
        raise CheckFailed("; ".join(problems))
    return (
        f"{platform} platform containers as uid {PLATFORM_UID}, read-only roots, ports on 127.0.0.1"
    )


def check_smoke(stack: Stack) -> str:
    run(
        [sys.executable, "-m", "platform_tools.testing.smoke", stack.url, "--wait", "90"],
        quiet=False,
    )
    return "make smoke passed"


class Journey:
    """A customer's order confirmed, then refunded by finance staff, through the gateway."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.gateway = Gateway(stack.url, timeout=20)

    def call(self, method: str, path: str, body=None, token=None, expect: int = 200):
        return self.gateway.call(method, path, body, token).expect(expect).body

    def token(self, email: str, otp: str = "") -> str:
        body = {"email": email, "password": PASSWORD, **({"otp": otp} if otp else {})}
        return self.call("POST", "/api/v1/auth/token/", body)["access"]

    def wait(self, what: str, probe, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while not (value := probe()):
            if time.monotonic() > deadline:
                raise CheckFailed(f"gave up waiting for {what}")
            time.sleep(1)
        return value

    def staff(self) -> None:
        code = (
            "from django.contrib.auth.models import Group\n"
            "from accounts.models import User\n"
            "for email, roles in [\n"
            "    ('merch@example.com', ['catalogue_manager', 'inventory_manager']),\n"
            "    ('finance@example.com', ['order_manager', 'payment_manager']),\n"
            "]:\n"
            f"    user = User.objects.create_user(email, {PASSWORD!r}, is_staff=True)\n"
            "    user.groups.set([Group.objects.get_or_create(name=r)[0] for r in roles])\n"
        )
        self.stack.manage("auth-web", "shell", "-c", code)
        uri = self.stack.manage("auth-web", "totp_device", "finance@example.com").splitlines()[-1]
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        self.otp_key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    def otp(self) -> str:
        return f"{hotp(self.otp_key, int(time.time()) // 30):06d}"

    def product(self) -> dict:
        merch = self.token("merch@example.com")
        category = self.call(
            "POST", "/api/v1/categories/", {"name": "Mugs", "slug": "mugs"}, merch, 201
        )
        product = self.call(
            "POST",
            "/api/v1/products/",
            {
                "sku": "CHECK-MUG-1",
                "name": "Mug",
                "price": "12.50",
                "category": category["id"],
                "description": "A mug of the images check.",
            },
            merch,
            201,
        )
        self.wait(
            "the SKU in inventory",
            lambda: (
                self.gateway.call("GET", "/api/v1/inventory/CHECK-MUG-1/", token=merch).status
                == 200
            ),
        )
        self.call(
            "POST",
            "/api/v1/inventory/CHECK-MUG-1/adjustments/",
            {"kind": "restock", "quantity": 50, "reason": "first delivery"},
            merch,
            201,
        )
        return product

    def customer(self) -> str:
        email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
        self.call(
            "POST", "/api/v1/auth/register/", {"email": email, "password": PASSWORD}, expect=201
        )
        return self.token(email)

    def order(self, customer: str, product: dict) -> dict:
        body = {
            "lines": [{"product_id": product["id"], "quantity": 1}],
            "shipping_address": SHIPPING_ADDRESS,
            "payment_token": "tok_visa",
        }
        answer = self.gateway.call("POST", "/api/v1/orders/", body, customer)
        return answer.expect(201).body

    def settled(self, customer: str, order_id: str, timeout: float = 120) -> dict:
        final = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}

        def probe():
            order = self.call("GET", f"/api/v1/orders/{order_id}/", token=customer)
            return order if order["status"] in final else None

        return self.wait(f"order {order_id} to settle", probe, timeout)

    def refund(self, customer: str, order: dict) -> None:
        finance = self.token("finance@example.com", self.otp())
        payments = self.call("GET", f"/api/v1/payments/?order_id={order['id']}", token=finance)
        payment = payments["results"][0]
        self.call(
            "POST",
            f"/api/v1/payments/{payment['id']}/refunds/",
            {"amount": payment["amount"], "reason": "images check"},
            finance,
            201,
        )
        self.wait(
            "the order REFUNDED",
            lambda: (
                self.call("GET", f"/api/v1/orders/{order['id']}/", token=customer)["status"]
                == "REFUNDED"
            ),
        )


def check_journey(stack: Stack) -> tuple[str, Journey, dict]:
    journey = Journey(stack)
    journey.staff()
    product = journey.product()
    customer = journey.customer()
    order = journey.order(customer, product)
    done = journey.settled(customer, order["id"])
    if done["status"] != "CONFIRMED":
        raise CheckFailed(f"order {order['id']} ended {done['status']}: {done.get('history')}")
    journey.refund(customer, done)
    return "register → order CONFIRMED → refunded by staff", journey, product


def check_worker_restart(stack: Stack, journey: Journey, product: dict) -> str:
    """Orders placed while order's worker is killed are all confirmed once it is back."""
    customer = journey.customer()
    worker = stack.container("order-worker")
    stack.engine.docker("kill", worker)
    orders = [journey.order(customer, product) for _ in range(3)]
    stack.engine.docker("start", worker)
    states = [journey.settled(customer, o["id"], timeout=180)["status"] for o in orders]
    if states != ["CONFIRMED"] * 3:
        raise CheckFailed(f"orders after the worker's restart ended {states}")
    return "order-worker killed and restarted: 3 orders placed meanwhile all CONFIRMED"


BROKER_PROBE = """
import os, sys, amqp
user, password, queue = sys.argv[1:4]
conn = amqp.Connection('rabbitmq:5672', userid=user, password=password, virtual_host='platform')
conn.connect()
channel = conn.channel()
try:
    channel.basic_get(queue=queue)
    print('allowed')
except amqp.exceptions.AccessRefused:
    print('refused')
"""


def check_broker(stack: Stack) -> str:
    definitions = json.loads((REPO_ROOT / "compose/rabbitmq/definitions.json").read_text())
    queues = [q["name"] for q in definitions["queues"] if q["vhost"] == "platform"]
    own = next(q for q in queues if q.startswith("inventory"))
    other = next(q for q in queues if q.startswith("payment"))
    password = stack.settings["INVENTORY_RABBITMQ_PASSWORD"]
    worker = stack.container("inventory-worker")
    answers = {}
    for queue in (own, other):
        answers[queue] = stack.engine.docker(
            "exec", worker, "python", "-c", BROKER_PROBE, "inventory", password, queue
        ).stdout.strip()
    if answers != {own: "allowed", other: "refused"}:
        raise CheckFailed(f"broker permissions of inventory's user: {answers}")
    return f"inventory's broker user reads {own}, refused on {other}"


def check_prometheus(stack: Stack, timeout: float = 120) -> str:
    """Every target of compose's Prometheus config up."""
    url = f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}/api/v1/targets"
    deadline, down = time.monotonic() + timeout, ["no answer"]
    while True:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(url, timeout=10) as response:
                targets = json.load(response)["data"]["activeTargets"]
            down = [t["scrapeUrl"] for t in targets if t["health"] != "up"]
            if targets and not down:
                return f"Prometheus: all {len(targets)} targets up"
        if time.monotonic() > deadline:
            raise CheckFailed(f"Prometheus targets not up after {timeout:.0f} s: {down}")
        time.sleep(3)


def check_flower(stack: Stack, timeout: float = 120) -> str:
    """Flower (its own broker user) lists every service's worker."""
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}/api/workers?refresh=1"
    auth = base64.b64encode(stack.settings["FLOWER_BASIC_AUTH"].encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    expected = sum(1 for s in SERVICES if s != "gateway")
    deadline, workers = time.monotonic() + timeout, {}
    while True:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(request, timeout=20) as response:
                workers = json.load(response)
            if len(workers) >= expected:
                return f"Flower lists {len(workers)} workers"
        if time.monotonic() > deadline:
            raise CheckFailed(f"Flower lists {sorted(workers)}, expected {expected} workers")
        time.sleep(3)


def check_left_nothing(stack: Stack) -> str:
    label = f"label=com.docker.compose.project={stack.project}"
    left = {
        kind: stack.engine.docker(
            kind, "ls", *(["-a"] if kind == "container" else []), "-q", "--filter", label
        ).stdout.split()
        for kind in ("container", "volume", "network")
    }
    if any(left.values()):
        raise CheckFailed(f"docker-compose down -v left {left}")
    return "docker-compose down -v left no container, volume or network"


@contextlib.contextmanager
def locked(cache: Path) -> Iterator[None]:
    """One run at a time per cache (the private engine's data root is in it)."""
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_tools.testing.delivery.stack_check")
    parser.add_argument("--keep", action="store_true", help="leave the stack up (debugging)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    still = tools.ensure(["dockerd", "debootstrap", "docker-compose"])
    if still:
        print(f"images-check: not installed: {' '.join(still)}", file=sys.stderr)
        return 1
    registry, tag = "platform-check", "local"
    with locked(cache), tempfile.TemporaryDirectory(prefix="images-check-") as folder:
        engine = Engine(cache)
        stack = None
        try:
            engine.start()
            debian = base_image(engine, cache)
            python = python_stand_in(engine, debian)
            # The backing stand-ins (mostly downloads) build beside the services (mostly CPU).
            with ThreadPoolExecutor(1) as pool:
                backing = pool.submit(stand_ins, engine, debian, python)
                service_images(engine, python, registry, tag)
                images = backing.result()
            built = time.monotonic()
            step(f"images built in {built - started:.0f} s")
            image_report(engine, registry, tag)
            stack = Stack(engine, Path(folder), images, registry, tag)
            for profile in VALIDATED_ONLY:
                stack.compose("--profile", profile, "config", "-q")
            step(
                f"profiles {', '.join(VALIDATED_ONLY)}: Elasticsearch, Logstash, Filebeat, "
                "Kibana, Grafana, the collector and Jaeger cannot be had here, their "
                "definitions are validated only"
            )
            stack.compose("up", "-d", "--no-build", timeout=600)
            stack.compose("up", "-d", "--no-build", *OPTIONAL, timeout=300)
            stack.wait_healthy()
            booted = time.monotonic()
            step(f"stack up and healthy in {booted - built:.0f} s")
            for check in (
                check_containers,
                check_smoke,
                check_broker,
                check_prometheus,
                check_flower,
            ):
                step(f"ok: {check(stack)}")
            line, journey, product = check_journey(stack)
            step(f"ok: {line}")
            step(f"ok: {check_worker_restart(stack, journey, product)}")
            if args.keep:
                host = engine.env.get("DOCKER_HOST")
                step(f"left up: project {stack.project}, {stack.url}, DOCKER_HOST={host}")
                return 0
            stack.down()
            step(f"ok: {check_left_nothing(stack)}")
            stack = None
        except (CheckFailed, SmokeFailure, subprocess.TimeoutExpired) as exc:
            print(f"images-check: FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            if stack is not None and not args.keep:
                with contextlib.suppress(Exception):
                    stack.down()
            if not args.keep:
                engine.stop()
    step(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
