"""The whole platform as separate processes on the real profile, for end-to-end tests, fault
tests and benchmarks.

    with Stack(tmp_path) as stack:
        stack.gateway.url           # the front door
        stack.web["order"].url      # each service's web process, direct
        stack.prometheus.url        # Prometheus scraping every target
        stack.manage("auth", "totp_device", "ada@example.com")
        stack.mail.wait_for(to="ada@example.com")   # a mail auth_service sent over SMTP

Every service gets its own PostgreSQL database, the run's RabbitMQ vhost and Redis key prefix
(:class:`~.processes.Harness`); each runs its production web command (granian) and, where it has
tasks, a Celery worker and beat, each started as its container starts it (service_kit.entrypoints:
the worker serves its metrics over HTTP). user_service and product_service keep their media in
buckets of an S3 protocol server on loopback (moto's, its own process), or with ``media="gcs"``
of a Google Cloud Storage one (gcp-storage-emulator, its own process; the services sign their URLs
with a service-account key made for the run). auth_service makes its
signing key on first use; every other process verifies tokens from its JWKS, and order_service
and the gateway (the staff front page's figures) sign in as service identities. The gateway is
started last, in front of them all. Prometheus
(the Debian package's binary) scrapes every web process and worker with the labels
``service`` and ``component`` and evaluates the platform's alert rules.

:meth:`Stack.stop` ends every process and drops what the run made (databases, vhost, cache keys),
also after a failed start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from service_kit.conf import REPO_ROOT
from service_kit.platform import BY_NAME, SERVICES, Service
from service_kit.platform import SERVICE_CLIENTS as SERVICE_SCOPES

from . import backing
from .gcs import GCS, ServiceAccount, emulator_client, start_emulator
from .processes import Harness, Proc, free_port
from .s3 import KEYS, S3

#: The platform's alert rules (shared by compose and the chart).
ALERT_RULES = REPO_ROOT / "charts" / "platform" / "files" / "prometheus" / "alerts.yml"
PROMETHEUS = "/usr/bin/prometheus"
#: High enough that the gateway's throttles never answer 429 during a run.
NO_THROTTLES = "user=100000000/min,anon=100000000/min,auth=100000000/min,admin=100000000/min"
#: order_service's service identity: it reads prices, and payments and reservations for the
#: reconciliation.
ORDER_CLIENT = ("order", "stack-order-client-secret-0123456789")
ORDER_SCOPES = SERVICE_SCOPES["order"]
#: The gateway reads the staff front page's figures and activity from every service.
GATEWAY_CLIENT = ("gateway", "stack-gateway-client-secret-0123456789")
GATEWAY_SCOPES = SERVICE_SCOPES["gateway"]
#: user_service's: it reads an account by id for a profile whose user.registered has not arrived.
USER_CLIENT = ("user", "stack-user-client-secret-0123456789")
USER_SCOPES = SERVICE_SCOPES["user"]
#: Each service identity with its scopes, by the service that signs in with it.
SERVICE_CLIENTS = {
    "order": (ORDER_CLIENT, ORDER_SCOPES),
    "gateway": (GATEWAY_CLIENT, GATEWAY_SCOPES),
    "user": (USER_CLIENT, USER_SCOPES),
}
#: Services whose media (avatars, product images) live in a bucket.
MEDIA_SERVICES = ("user", "product")


class Stack:
    """Boots every service (web; worker and beat where it has tasks), the gateway, an S3
    server and Prometheus; :meth:`stop` tears it all down."""

    def __init__(
        self,
        folder: Path,
        *,
        env: dict[str, str] | None = None,
        services: list[Service] = SERVICES,
        prometheus: bool = True,
        scrape_interval: str = "2s",
        alert_for: dict[str, str] | None = None,
        media: str = "s3",
    ):
        """``env`` goes to every process; ``alert_for`` replaces the ``for`` of the named alerts
        in Prometheus's copy of the rules (their expressions stay the file's); ``media`` is
        ``s3`` or ``gcs``."""
        if media not in ("s3", "gcs"):
            raise ValueError(f"media={media!r}: s3 or gcs")
        self.media = media
        self.folder = Path(folder)
        self.extra_env = dict(env or {})
        self.services = list(services)
        self.with_prometheus = prometheus
        self.scrape_interval = scrape_interval
        self.alert_for = dict(alert_for or {})
        self.harness: Harness | None = None
        self.web: dict[str, Proc] = {}
        self.workers: dict[str, Proc] = {}
        self.beats: dict[str, Proc] = {}
        self.s3: Proc | None = None
        self.gcs: Proc | None = None
        self.gcs_account: ServiceAccount | None = None
        self.prometheus: Proc | None = None
        self.buckets: dict[str, str] = {}
        self.boot_seconds = 0.0
        # Ports chosen up front: every service knows every upstream before any starts.
        self.ports = {service.name: free_port() for service in self.services}

    # -- the whole -------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def gateway(self) -> Proc:
        return self.web["gateway"]

    @property
    def mail(self):
        """The SMTP server every process sends its mail to (:class:`~.mail.MailSink`)."""
        return self.harness.mail

    def start(self) -> Stack:
        backing.require("postgres", "rabbitmq", "redis")
        # the run's vhost, or a vhost of its own beside a platform already running here
        self.harness = Harness(self.folder, profile="real", env=self.extra_env)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        self._start_gcs() if self.media == "gcs" else self._start_s3()
        for service in self.services:  # one database each, made before the parallel work
            self.harness.database_for(service)
        # migrate and collectstatic (the real profile serves collected files only), side by side
        with ThreadPoolExecutor(max_workers=len(self.services)) as pool:
            list(pool.map(self._prepare, self.services))
        names = [service.name for service in self.services]
        if "auth" in names:
            # First: it makes the signing key the others' JWKS reads come to.
            self.web["auth"] = self._web(BY_NAME["auth"])
            self._service_clients(names)
        rest = [s for s in self.services if s.name not in ("auth", "gateway")]
        for service in rest:
            self.web[service.name] = self._web(service, wait=False)
        for service in self.services:
            if service.worker:
                self.workers[service.name] = self._celery(service, "worker")
                self.beats[service.name] = self._celery(service, "beat")
        for proc in self.harness.procs:
            if proc.name.endswith(".web"):
                proc.wait_http(timeout=120)
            elif proc.name.endswith(".worker"):
                proc.wait_log(" ready.", timeout=120).wait_http("/metrics", timeout=30)
            else:
                proc.wait_log("beat: Starting...", timeout=120)
        if "gateway" in names:
            # ready: every upstream answers its /readyz through its /status
            self.web["gateway"] = self._web(BY_NAME["gateway"], wait=False).wait_http(
                "/status", timeout=120
            )
        if self.with_prometheus:
            self._start_prometheus()
        self.boot_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Every process (Prometheus and the S3 server too), the databases, the vhost and the
        run's cache keys; safe to call more than once and after a failed start."""
        # Prometheus first: a web process finishes its open (scrape) connections before it ends.
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.harness is not None:
            for proc in self.harness.procs:  # all told at once; each then waited for
                proc.signal(signal.SIGTERM)
            self.harness.stop_all()
            with ThreadPoolExecutor(max_workers=len(self.services)) as pool:
                names = [self.harness.database_key(service) for service in self.services]
                list(pool.map(_drop_database, names))
            self.harness.cleanup()  # anything left (dropping a dropped database is quick)
        for store in (self.s3, self.gcs):
            if store is not None:
                store.stop()
        # The run's vhost and cache keys (a second platform's went with its harness).
        if self.harness is None or not self.harness.suffix:
            with contextlib.suppress(Exception):
                backing.delete_vhost()
            with contextlib.suppress(Exception):
                backing.flush_cache_prefix()

    # -- environment -----------------------------------------------------------------------
    def env_for(self, name: str) -> dict[str, str]:
        """What a service's processes get beyond the harness's own: upstreams, keys, S3."""
        env = {
            f"{s.name.upper()}_SERVICE_URL": f"http://127.0.0.1:{self.ports[s.name]}"
            for s in self.services
            if s.name != "gateway"
        }
        if "auth" in self.ports:
            env["JWT_JWKS_URL"] = f"{env['AUTH_SERVICE_URL']}/.well-known/jwks.json"
        if name == "auth":
            env["JWT_AUTO_KEY"] = "1"
        if name in SERVICE_CLIENTS:
            (client, secret), _scopes = SERVICE_CLIENTS[name]
            env.update(SERVICE_CLIENT_ID=client, SERVICE_CLIENT_SECRET=secret)
        if name == "gateway":
            env["GATEWAY_THROTTLES"] = NO_THROTTLES
        if name in self.buckets and self.media == "gcs":
            env.update(
                MEDIA_BACKEND="gcs",
                GCS_BUCKET=f"gs://{self.buckets[name]}",
                STORAGE_EMULATOR_HOST=self.gcs.url,
                GOOGLE_APPLICATION_CREDENTIALS=str(self.folder / "gcs-service-account.json"),
            )
        elif name in self.buckets:
            env.update(
                S3_BUCKET=self.buckets[name],
                S3_ENDPOINT_URL=self.s3.url,
                S3_ACCESS_KEY_ID=KEYS["access_key"],
                S3_SECRET_ACCESS_KEY=KEYS["secret_key"],
            )
        return {**env, **self.extra_env}

    def manage(self, name: str, *args: str, timeout: float = 180) -> str:
        """``manage.py <args>`` of a service, with its processes' environment; its stdout."""
        return self.harness.manage(BY_NAME[name], *args, timeout=timeout, **self.env_for(name))

    def shell(self, name: str, code: str) -> str:
        """The last line ``code`` prints in the service's ``manage.py shell``."""
        return self.manage(name, "shell", "-c", code).splitlines()[-1]

    def query(self, name: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from one service's own database (``%s`` placeholders)."""
        import psycopg

        with psycopg.connect(self.harness.database_for(BY_NAME[name]), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    # -- the parts -------------------------------------------------------------------------
    def _service_clients(self, names: list[str]) -> None:
        """The service identities in auth_service of the services that call others."""
        for name, ((client, secret), scopes) in SERVICE_CLIENTS.items():
            if name in names:
                self.manage(
                    "auth", "create_service_client", client, "--secret", secret,
                    "--scopes", *scopes,
                )  # fmt: skip

    def _prepare(self, service: Service) -> None:
        self.harness.migrate(service, **self.env_for(service.name))
        self.manage(service.name, "collectstatic", "--noinput", "-v", "0")

    def _web(self, service: Service, wait: bool = True) -> Proc:
        return self.harness.start_web(
            service,
            port=self.ports[service.name],
            migrate=False,
            wait=wait,
            **self.env_for(service.name),
        )

    def _celery(self, service: Service, role: str) -> Proc:
        """The service's worker or beat as its container runs it (``service_kit.entrypoints``):
        the worker serves its own metrics over HTTP, from a metrics folder of its own."""
        port = free_port() if role == "worker" else None
        env = self.harness.env_for(
            service,
            **self.env_for(service.name),
            SERVICE=service.folder,
            HOST="127.0.0.1",  # where the worker's metrics listen
            WORKER_CONCURRENCY="2",
            PROMETHEUS_MULTIPROC_DIR=str(self.folder / "metrics" / f"{service.name}.{role}"),
            **({"WORKER_METRICS_PORT": str(port)} if port else {}),
        )
        proc = Proc(
            f"{service.name}.{role}",
            [sys.executable, "-m", "service_kit.entrypoints", role],
            service.path,
            env,
            self.folder / "logs" / f"{service.name}.{role}.log",
            port=port,
        ).start()
        self.harness.procs.append(proc)  # stopped, and its log shown, with the others
        return proc

    def _start_s3(self) -> None:
        """moto's S3 server in its own process, and a bucket for each service with media."""
        port = free_port()
        self.s3 = Proc(
            "s3",
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            self.folder,
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            self.folder / "logs" / "s3.log",
            port=port,
        ).start()
        self.s3.wait_http("/moto-api/", timeout=60)
        client = self.s3_client()
        for name in MEDIA_SERVICES:
            if name in self.ports:
                bucket = f"{name}-media-{backing.RUN_ID}"
                client.create_bucket(Bucket=bucket)  # django-storages does not create buckets
                self.buckets[name] = bucket

    def _start_gcs(self) -> None:
        """gcp-storage-emulator in its own process, a bucket for each service with media, and
        the service account's key the services sign their URLs with."""
        self.gcs = start_emulator(self.folder)
        self.gcs_account = ServiceAccount.make()
        self.gcs_account.write(self.folder / "gcs-service-account.json")
        client = emulator_client(self.gcs.url)
        for name in MEDIA_SERVICES:
            if name in self.ports:
                bucket = f"{name}-media-{backing.RUN_ID}"
                client.create_bucket(bucket)
                self.buckets[name] = bucket

    def media_bucket(self, name: str) -> S3 | GCS:
        """A service's bucket, as the media tests see one (``keys()``, ``check_signed()``…)."""
        if self.media == "gcs":
            client = emulator_client(self.gcs.url)
            return GCS(self.gcs.url, self.buckets[name], client, self.gcs_account)
        return S3(self.s3.url, self.buckets[name], self.s3_client())

    @property
    def media_url(self) -> str:
        """Where the signed media URLs point."""
        return (self.gcs if self.media == "gcs" else self.s3).url

    def s3_client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3.url,
            region_name="us-east-1",
            aws_access_key_id=KEYS["access_key"],
            aws_secret_access_key=KEYS["secret_key"],
            config=Config(s3={"addressing_style": "path"}),
        )

    # -- Prometheus ------------------------------------------------------------------------
    def scrape_targets(self) -> list[dict]:
        """Every web process and every worker, labelled as in every deployment."""
        return [
            {
                "targets": [f"127.0.0.1:{proc.port}"],
                "labels": {"service": name, "component": component},
            }
            for component, procs in (("web", self.web), ("worker", self.workers))
            for name, proc in procs.items()
        ]

    def _rules(self) -> Path:
        rules = yaml.safe_load(ALERT_RULES.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in self.alert_for:
                    rule["for"] = self.alert_for[rule["alert"]]
        path = self.folder / "prometheus" / "alerts.yml"
        path.write_text(yaml.safe_dump(rules, sort_keys=False))
        return path

    def _start_prometheus(self) -> None:
        if not Path(PROMETHEUS).exists():
            raise RuntimeError(f"{PROMETHEUS} is missing: `make tools` installs it")
        home = self.folder / "prometheus"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": "1s",
            },
            "rule_files": [str(self._rules())],
            "scrape_configs": [
                {
                    "job_name": "platform",
                    "metrics_path": "/metrics",
                    "static_configs": self.scrape_targets(),
                }
            ],
        }
        (home / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        self.prometheus = Proc(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            home,
            dict(os.environ),
            self.folder / "logs" / "prometheus.log",
            port=port,
        ).start()
        self.prometheus.wait_http("/-/ready", timeout=60)

    def prometheus_api(self, path: str, **params: str) -> dict:
        """``GET /api/v1/<path>`` of the run's Prometheus: its ``data``."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.prometheus.url}/api/v1/{path}{query}", timeout=5) as r:
            answer = json.loads(r.read())
        assert answer["status"] == "success", answer
        return answer["data"]


def _drop_database(name: str) -> None:
    with contextlib.suppress(Exception):
        backing.drop_database(name)


def main() -> int:
    """``python -m platform_tools.testing.stack``: the whole platform on the real profile until
    Ctrl-C, e.g. to try the admins behind the gateway as the end-to-end tests use them."""
    import tempfile

    os.environ.setdefault("REQUIRE_SERVICES", "1")  # say what is missing instead of skipping
    # Ctrl-C, or SIGTERM from a supervisor: either way the stack is stopped on the way out.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with (
        tempfile.TemporaryDirectory(prefix="platform-stack-") as folder,
        Stack(Path(folder)) as stack,
    ):
        print(f"booted in {stack.boot_seconds:.0f} s; logs in {folder}/logs")
        for name, proc in stack.web.items():
            print(f"  {name:<10} {proc.url}")
        print(f"  {stack.media:<10} {stack.media_url}")
        print(f"  {'prometheus':<10} {stack.prometheus.url}")
        print("Ctrl-C stops everything.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
