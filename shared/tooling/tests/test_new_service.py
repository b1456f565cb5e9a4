"""The README's "Adding an eighth service", proved on a copy of the repository.

``make new-service`` makes two services there: review_service, whose API announces
``review.created``, and rating_service, whose domain adds one handler that makes a rating of each
review. Run from the copy with this virtualenv (the copy's kit and tooling first on the path),
each migrates, answers its probes and passes its own suite (the kit's contract tests, its
permission matrix); the gateway shows the new admins and routes their APIs; a review posted
through the gateway arrives at rating_service through the broker. The service's own files beyond
its domain app stay under 60 code lines.

The profile is chosen, not found: the real one (PostgreSQL, RabbitMQ with a broker user per
service, whose consumers check the sender against the contract's owner) with
``REQUIRE_SERVICES=1``, as in CI; the embedded one otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from copies import edit

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness, wait_for
from platform_tools.testing.stubs import JsonStub
from platform_tools.testing.tokens import TokenMint
from service_kit.conf import REPO_ROOT
from service_kit.platform import Service

REPO = REPO_ROOT
#: What a clone does not have: the virtualenv, run data, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "var", "reports", "__pycache__", "*.egg-info", ".*_cache", "node_modules"
)
OWN_FILES_LIMIT = 60
PROFILE = "real" if backing.required() else "embedded"

# rating_service's domain: what a review means to it (the recipe's "handlers.py for events").
RATING_HANDLERS = '''\
"""What rating_service does with other services' events."""

from service_kit.messaging import event_handler

from .services import create_rating


@event_handler("review.created")
def on_review_created(envelope):
    create_rating(name=f"rating of {envelope.data['name']}")
'''


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 240) -> str:
    result = subprocess.run(  # noqa: S603 - argv built here
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}{result.stderr}"
    return result.stdout


def code_lines(path: Path) -> int:
    """Lines that are neither blank nor a comment (docstrings count)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return sum(1 for line in lines if line and not line.startswith(("#", ";")))


def own_files(service: Path, app: str) -> dict[str, Path]:
    """The service's source files outside its domain app and its contracts, by their path."""
    found = {}
    for path in service.rglob("*"):
        parts = path.relative_to(service).parts
        if path.is_file() and parts[0] not in (app, "contracts") and "__pycache__" not in parts:
            found["/".join(parts)] = path
    return found


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A copy of the working tree with the two new services, made as a developer makes them."""
    root = tmp_path_factory.mktemp("eighth") / "repo"
    shutil.copytree(REPO, root, ignore=NOT_IN_A_CLONE)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "shared/tooling"), str(root / "shared")]),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # The Makefile's target as written; its virtualenv is this one (-o: not installed again).
    make = ["make", "-s", "-o", ".venv/.base", "-o", ".venv/.test", f"PY={sys.executable}"]
    for name in ("review_service", "rating_service"):
        run([*make, "new-service", f"NAME={name}"], root, env)
    edit(
        root / "rating_service/rating_service/settings.py",
        'apps=["ratings"]',
        'apps=["ratings"], consumes=["review.created"]',
    )
    (root / "rating_service/ratings/handlers.py").write_text(RATING_HANDLERS)
    return root, env


def test_the_scaffold_registers_the_service_once_in_each_shared_place(copy):
    root, env = copy
    assert '    "review",\n    "rating",\n)' in (root / "shared/service_kit/conf.py").read_text()
    routes = (root / "gateway/edge/routes.py").read_text()
    assert routes.count('"reviews": "review",') == 1
    assert (
        routes.count('        Route(\n            "reviews",\n            "/api/v1/reviews/",\n')
        == 1
    )
    roles = (root / "shared/service_kit/roles.py").read_text()
    assert roles.count('    "review": ("reviews", "Reviews", ("support",)),\n') == 1
    contract = root / "review_service/contracts/messages/review.created.v1.json"
    assert '"type": "review.created"' in contract.read_text()
    dockerfile = (root / "shared/docker/Dockerfile").read_text()
    assert dockerfile.count("COPY review_service/contracts/messages /app/review_service/") == 1
    assert " payment_service review_service rating_service\n" in (root / "Makefile").read_text()
    assert "make test SUITES=review_service " in (root / "Jenkinsfile").read_text()
    # The GitHub workflow's suites are `make affected`'s, which reads the kit's table: no edit.
    assert (
        "fromJSON(needs.affected.outputs.suites)" in (root / ".github/workflows/ci.yml").read_text()
    )
    every = "from platform_tools.release import affected; print(' '.join(affected(None)))"
    assert "review_service rating_service" in run([sys.executable, "-c", every], root, env)
    values = (root / "charts/platform/values.yaml").read_text()
    assert "  review:\n    folder: review_service\n" in values
    assert "gateway: [auth, user, product, inventory, order, payment, review, rating]" in values
    # The same name again is refused, and leaves everything as it was.
    before = {p: p.read_text() for p in (root / "shared/service_kit/conf.py", root / "Makefile")}
    again = subprocess.run(
        [sys.executable, "-m", "platform_tools.scaffold", "review_service"],
        cwd=root,
        env=copy[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 2 and "review_service/ exists" in again.stderr
    assert {p: p.read_text() for p in before} == before


def test_the_pipelines_run_its_suite(copy):
    """The pipelines' validator, run by the copy's kit (which knows the new services), passes."""
    root, env = copy
    out = run([sys.executable, "-m", "platform_tools.testing.delivery", "pipelines"], root, env)
    assert "ok   pipelines" in out


def test_it_passes_make_lints_checks(copy):
    """ruff on the new services and the shared files the scaffold edited; Django's checks and the
    migration checks `make lint` runs on every service (embedded: they read the code)."""
    root, env = copy
    ruff = str(Path(sys.executable).with_name("ruff"))
    edited = ["review_service", "rating_service", "shared/service_kit", "gateway/edge"]
    run([ruff, "check", *edited], root, env)
    run([ruff, "format", "--check", *edited], root, env)
    env = {**env, "PLATFORM_DATA_DIR": str(root / "var"), "MIGRATION_LINTER": "1"}
    for key in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    for args in (
        ("check", "--fail-level", "WARNING"),
        ("makemigrations", "--check", "--dry-run"),
        ("lintmigrations", "--warnings-as-errors"),
    ):
        run([sys.executable, "manage.py", *args], root / "review_service", env)


def test_its_own_files_beyond_its_domain_app_stay_small(copy):
    root, _ = copy
    for folder, app in (("review_service", "reviews"), ("rating_service", "ratings")):
        files = own_files(root / folder, app)
        assert {"manage.py", f"{folder}/settings.py", "tests/test_contract.py"} <= set(files)
        counts = {name: code_lines(path) for name, path in files.items()}
        assert sum(counts.values()) < OWN_FILES_LIMIT, counts
        # the settings say only what is the service's own
        assert code_lines(root / folder / folder / "settings.py") <= 4


# -- the new services as processes, with the gateway -----------------------------------------------


class Jwks(JsonStub):
    """auth_service's key set, standing in for it: the test signs the tokens."""

    def __init__(self, mint: TokenMint):
        super().__init__()
        self.mint = mint

    def answer(self, request):
        return 200, self.mint.jwks


@pytest.fixture(scope="module")
def own_suite(copy):
    """review_service's suite, started before the processes boot and read at the end, on the
    processes' profile."""
    root, env = copy
    embedded = {"PLATFORM_TEST_EMBEDDED": "1"} if PROFILE == "embedded" else {}
    tests = ["tests/test_contract.py", "tests/test_permission_matrix.py", "tests/test_reviews.py"]
    suite = subprocess.Popen(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-m", "pytest", "-q", *tests],
        cwd=root / "review_service",
        env={**env, **embedded},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield suite
    if suite.poll() is None:
        suite.kill()
        suite.communicate()


@pytest.fixture(scope="module")
def platform(copy, own_suite, tmp_path_factory):
    root, env = copy
    real = {}
    if PROFILE == "real":
        backing.require("postgres", "rabbitmq", "redis")
        real = {"broker_url": backing.create_vhost()}
    mint = TokenMint()
    jwks = Jwks(mint)
    jwks_url = jwks.start()
    harness = Harness(
        tmp_path_factory.mktemp("eighth-run"),
        profile=PROFILE,
        env={"PYTHONPATH": env["PYTHONPATH"], "JWT_JWKS_URL": f"{jwks_url}/.well-known/jwks.json"},
        **real,
    )
    review = Service("review", "review_service", 0, base=root)
    rating = Service("rating", "rating_service", 0, base=root)
    gateway = Service("gateway", "gateway", 0, worker=False, base=root)
    try:
        # prepared as `make up` prepares them (migrate, collectstatic), then started side by side
        for service in (review, rating):
            harness.manage(service, "prepare")
        procs = {s.name: harness.start_web(s, wait=False, migrate=False) for s in (review, rating)}
        worker = harness.start_worker(rating, wait=False)
        upstreams = {f"{name.upper()}_SERVICE_URL": proc.url for name, proc in procs.items()}
        procs["gateway"] = harness.start_web(
            gateway, wait=False, **upstreams, READYZ_UPSTREAMS="review,rating"
        )
        for proc in procs.values():
            proc.wait_http()
        worker.wait_log(" ready.")
        yield harness, procs, mint, {"review": review, "rating": rating}
    finally:
        harness.cleanup()
        jwks.stop()


def test_it_migrates_and_answers_its_probes(platform):
    harness, procs, _, services = platform
    for name, service in services.items():
        sql = "SELECT name FROM django_migrations WHERE app = ?"
        assert harness.query(service, sql, (f"{name}s",)) == [("0001_initial",)]
        health = requests.get(f"{procs[name].url}/healthz", timeout=10)
        assert health.json() == {"status": "ok", "service": name}
        ready = requests.get(f"{procs[name].url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
    ready = requests.get(f"{procs['gateway'].url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    status = requests.get(f"{procs['gateway'].url}/status", timeout=10)
    assert status.status_code == 200, status.text


def test_its_admin_is_shown_through_the_gateway(platform):
    _, procs, _, _ = platform
    gateway = procs["gateway"].url
    index = requests.get(f"{gateway}/admin/reviews/", allow_redirects=False, timeout=10)
    assert index.status_code == 302
    assert index.headers["Location"] == "/admin/reviews/login/?next=/admin/reviews/"
    # The staff console knows it: its sign-in is the front page's (single sign-on).
    login = requests.get(
        f"{gateway}/admin/reviews/login/?next=/admin/reviews/", allow_redirects=False, timeout=10
    )
    assert login.status_code == 302
    assert login.headers["Location"] == "/admin/?to=%2Fadmin%2Freviews%2F"
    css = requests.get(f"{gateway}/admin/reviews/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_a_review_posted_through_the_gateway_reaches_the_rating_service(platform):
    harness, procs, mint, services = platform
    gateway = procs["gateway"].url
    person = {"Authorization": f"Bearer {mint.token(roles=['customer'])}"}
    refused = requests.post(f"{gateway}/api/v1/reviews/", json={"name": "Great"}, timeout=10)
    assert refused.status_code == 401, refused.text
    made = requests.post(
        f"{gateway}/api/v1/reviews/", json={"name": "Great"}, headers=person, timeout=10
    )
    assert made.status_code == 201, made.text

    def ratings():
        listed = requests.get(f"{gateway}/api/v1/ratings/", timeout=10).json()["results"]
        return [row["name"] for row in listed]

    assert wait_for(ratings, timeout=30, what="the rating made from review.created") == [
        "rating of Great"
    ]
    # applied once, from the message the review service sent (its outbox row's id)
    sent = harness.query(
        services["review"],
        "SELECT id FROM service_kit_outboxmessage WHERE routing_key = ?",
        ("review.created",),
    )
    applied = harness.query(
        services["rating"],
        "SELECT message_id FROM service_kit_processedmessage WHERE handler = ?",
        ("events.review.created",),
    )
    # (SQLite keeps a UUID as 32 hex digits, PostgreSQL as a uuid)
    assert [uuid.UUID(str(row[0])) for row in applied] == [uuid.UUID(str(sent[0][0]))]
    assert len(sent) == 1


def test_the_copy_is_the_one_that_runs(platform):
    """The processes are the copy's (its kit lists the new services); this checkout is as it was."""
    _, procs, _, _ = platform
    schema = requests.get(f"{procs['review'].url}/api/schema/?format=json", timeout=10).json()
    assert "/api/v1/reviews/" in schema["paths"]
    assert not (REPO / "review_service").exists()
    assert '"review"' not in (REPO / "shared/service_kit/conf.py").read_text()


def test_its_own_suite_passes_with_the_kits_contract_tests(own_suite):
    out, _ = own_suite.communicate(timeout=240)
    assert own_suite.returncode == 0, out[-3000:]
    assert " passed" in out and "skipped" not in out, out[-1000:]
