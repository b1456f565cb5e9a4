"""Every way into a service's process: the few lines its project's ``manage.py``, ``wsgi.py`` and
``asgi.py`` would otherwise repeat (:func:`manage`, :func:`wsgi_application`,
:func:`asgi_application`), and the container's command (:func:`main`): one image runs every
process of a service, chosen by its first argument.

    python -m service_kit.entrypoints web          # granian on $PORT (8000)
    python -m service_kit.entrypoints worker       # Celery worker; metrics: $WORKER_METRICS_PORT
    python -m service_kit.entrypoints beat         # Celery beat: exactly one per service
    python -m service_kit.entrypoints migrate      # migrate the database, then exit
    python -m service_kit.entrypoints manage ARGS  # any manage.py command (createsuperuser, shell)
    python -m service_kit.entrypoints healthcheck  # the image's HEALTHCHECK (exit 0 when healthy)

The service is ``$SERVICE``, its folder's name (``order_service``), baked into the image. Sizes
come from the environment: ``WEB_WORKERS`` granian processes of ``WEB_THREADS`` threads (2 and 4
by default: the benchmarks' best on two cores), ``WORKER_POOL`` and ``WORKER_CONCURRENCY``
(threads, 4). Every process writes only under ``/tmp`` (``PLATFORM_DATA_DIR``,
``PROMETHEUS_MULTIPROC_DIR``), so the root filesystem may be read-only.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .platform import SERVICES, Service

if TYPE_CHECKING:
    from django.core.handlers.asgi import ASGIHandler

    from service_kit.ops.bodies import WholeBodies

# -- a project's manage.py, wsgi.py and asgi.py ----------------------------------------------------


def manage(settings_module: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def wsgi_application(settings_module: str) -> WholeBodies:
    """Django's WSGI application, given chunked request bodies whole (service_kit.ops.bodies)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    from service_kit import tracing
    from service_kit.ops.bodies import WholeBodies

    application: Any = get_wsgi_application()
    if tracing.ON:  # a caller's unsampled trace costs nothing more here (see there)
        application = tracing.UnsampledCallers(application)
    return WholeBodies(application, limit=settings.MAX_REQUEST_BODY_SIZE)


def asgi_application(settings_module: str) -> ASGIHandler:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


# -- the container's command -----------------------------------------------------------------------

#: The processes one image runs, by the container's first argument.
PROCESS_ROLES = ("web", "worker", "beat", "migrate", "manage", "healthcheck")


def service_from_env(environ: Mapping[str, str] = os.environ) -> Service:
    """The service named by ``SERVICE`` (its folder), or by ``DJANGO_SETTINGS_MODULE``."""
    folder = environ.get("SERVICE") or environ.get("DJANGO_SETTINGS_MODULE", "").split(".")[0]
    for service in SERVICES:
        if folder in (service.folder, service.name):
            return service
    known = ", ".join(s.folder for s in SERVICES)
    raise SystemExit(f"SERVICE={folder!r} is not a service of the platform (one of: {known})")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(environ.get(name) or default)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {environ[name]!r}") from None


def fresh_metrics_dir(environ: Mapping[str, str] = os.environ) -> None:
    """Empty the multiprocess metrics folder: it belongs to this container, and files left by the
    processes of an earlier start (a restart keeps an emptyDir) would add their counts again."""
    folder = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.db", "exemplars_*.json"):
        for stale in path.glob(pattern):
            stale.unlink(missing_ok=True)


def web_command(service: Service, environ: Mapping[str, str] = os.environ) -> list[str]:
    return service.web_command(
        host=environ.get("HOST", "0.0.0.0"),  # noqa: S104 - a container listens on its interface
        port=_int(environ, "PORT", 8000),
        workers=_int(environ, "WEB_WORKERS", 2),
        threads=_int(environ, "WEB_THREADS", 4),
        # A crashed granian worker comes back; on SIGTERM requests in flight get 30 s to finish.
        options=("--respawn-failed-workers", "--workers-kill-timeout", "30"),
    )


def worker_args(service: Service, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The Celery CLI's arguments (without the program) for the worker, beat not embedded."""
    return service.worker_command(
        embedded_beat=False,
        pool=environ.get("WORKER_POOL", "threads"),
        concurrency=_int(environ, "WORKER_CONCURRENCY", 4),
    )[1:]


def start_worker_metrics(port: int) -> None:
    """Serve the worker's Prometheus metrics (task counts and durations, dead letters) on ``port``:
    the web process of the same service runs in another container and cannot add them up."""
    from prometheus_client import start_http_server

    from service_kit import exemplars

    # prometheus_client's server answers OpenMetrics (exemplars) when the scraper asks for it.
    registry = exemplars.process_registry()
    start_http_server(port, addr=os.environ.get("HOST", "0.0.0.0"), registry=registry)  # noqa: S104


def run_celery(args: list[str]) -> None:
    """Celery's command line in this process (so that signal handlers connected here apply)."""
    from celery.bin.celery import main

    sys.argv = ["celery", *args]
    main()


def run_worker(service: Service, environ: Mapping[str, str] = os.environ) -> None:
    fresh_metrics_dir(environ)
    port = _int(environ, "WORKER_METRICS_PORT", 9100)
    if port:
        from celery import signals

        # worker_init: in the worker's main process, before it connects to the broker, so the
        # metrics answer (and the probe sees the process alive) while it waits for RabbitMQ.
        signals.worker_init.connect(lambda **_: start_worker_metrics(port), weak=False)
    run_celery(worker_args(service, environ))


def running_role(cmdline: list[str]) -> str:
    """The role of the container's main process, from its command line: worker and beat run in
    the entrypoint's process (``… service_kit.entrypoints worker``); web has become granian."""
    for role in ("worker", "beat", "migrate"):
        if role in cmdline:
            return role
    return "web"


def _probe_host(environ: Mapping[str, str]) -> str:
    """A Host header the service accepts: its first allowed host (Django checks it)."""
    hosts = [h.strip() for h in environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = (hosts[0] if hosts else "localhost").lstrip(".")
    return "localhost" if host == "*" else host


#: Beat saves its schedule file every three minutes (Celery's default): older than this, it hangs.
BEAT_STALE_SECONDS = 300


def beat_alive(environ: Mapping[str, str] = os.environ) -> bool:
    """Beat's schedule file (``celerybeat-<service>`` in ``PLATFORM_DATA_DIR``) was recently
    written."""
    folder = Path(environ.get("PLATFORM_DATA_DIR", "/tmp/platform"))  # noqa: S108 - the image's
    times = [path.stat().st_mtime for path in folder.glob("celerybeat-*")]
    return bool(times) and time.time() - max(times) <= BEAT_STALE_SECONDS


def healthcheck(role: str | None = None, environ: Mapping[str, str] = os.environ) -> int:
    """0 when the container's process is alive: web its ``/healthz`` answers, worker its metrics;
    beat has written its schedule file recently (:func:`beat_alive`)."""
    if role is None:
        try:
            raw = Path("/proc/1/cmdline").read_bytes()
        except OSError:
            raw = b""
        role = running_role(raw.decode(errors="replace").split("\0"))
    if role == "web":
        url = f"http://127.0.0.1:{_int(environ, 'PORT', 8000)}/healthz"
    elif role == "worker":
        url = f"http://127.0.0.1:{_int(environ, 'WORKER_METRICS_PORT', 9100)}/metrics"
    elif role == "beat":
        if beat_alive(environ):
            return 0
        print("beat unhealthy: its schedule file is missing or stale", file=sys.stderr)
        return 1
    else:
        return 0
    request = urllib.request.Request(url, headers={"Host": _probe_host(environ)})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{role} unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    role = argv[0] if argv else "web"
    if role not in PROCESS_ROLES:
        print(
            f"usage: python -m service_kit.entrypoints {{{'|'.join(PROCESS_ROLES)}}}",
            file=sys.stderr,
        )
        return 2
    if role == "healthcheck":
        return healthcheck(argv[1] if len(argv) > 1 else None)
    service = service_from_env()
    os.chdir(service.path)  # the project package is imported from its folder
    sys.path.insert(0, str(service.path))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{service.project}.settings")
    if role == "web":
        fresh_metrics_dir()
        command = web_command(service)
        os.execv(command[0], command)  # noqa: S606 - granian becomes the container's main process
    if role == "worker":
        run_worker(service)
    elif role == "beat":
        run_celery(service.beat_command()[1:])
    else:
        from django.core.management import execute_from_command_line

        args = ["migrate", "--noinput"] if role == "migrate" else argv[1:]
        execute_from_command_line(["manage.py", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
