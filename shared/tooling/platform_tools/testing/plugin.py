"""The kit's pytest plugin (registered as ``service_kit``): isolation and fixtures.

Before Django loads, a service's in-process tests are pointed at the database the run chose
(backing.test_database: ``TEST_DATABASE``, PostgreSQL under CI and ``REQUIRE_SERVICES``): this
run's own database on the real PostgreSQL and its own Redis key prefix, or the embedded profile
(SQLite, file cache) in a temporary folder. PostgreSQL or Redis chosen but unreachable stops the
run at once, saying so; nothing is picked by what happens to be listening.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest

from . import backing


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before pytest-django's own hook, which loads the settings.
    _isolate()
    return (yield)


def _isolate() -> None:
    if "PLATFORM_DATA_DIR" not in os.environ:
        os.environ["PLATFORM_DATA_DIR"] = tempfile.mkdtemp(prefix="platform-test-")
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
    try:
        database = backing.test_database()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    if database == "sqlite":
        return
    unreachable = [name for name in ("postgres", "redis") if not backing.reachable(name, 3)]
    if unreachable:
        raise pytest.UsageError(
            f"TEST_DATABASE=postgres, but {' and '.join(unreachable)} do(es) not answer "
            f"({', '.join(backing.URLS[name] for name in unreachable)}); start them, point "
            "TEST_POSTGRES_URL / TEST_REDIS_URL at them, or run TEST_DATABASE=sqlite"
        )
    folder = Path.cwd()  # the suite's: the kit's and the tooling's are both called tests
    name = folder.name if folder.name != "tests" else f"{folder.parent.name}_tests"
    os.environ.setdefault("DATABASE_URL", backing.database_url(name))
    os.environ.setdefault("CACHE_URL", backing.REDIS_URL)
    os.environ.setdefault("CACHE_KEY_PREFIX", backing.cache_prefix())


def pytest_unconfigure(config):
    if os.environ.get("CACHE_KEY_PREFIX", "").startswith("t_"):
        with contextlib.suppress(Exception):
            backing.flush_cache_prefix()
    with contextlib.suppress(Exception):
        backing.delete_vhost()  # this run's, if it made one


from .gcs import gcs, gcs_account, gcs_server, media  # noqa: E402, F401 - media fixtures
from .s3 import s3, s3_server  # noqa: E402, F401 - fixtures every service's tests may use


@pytest.fixture(scope="session")
def _mint_key():
    """One signing key for the run (an RSA key takes a while to make)."""
    from .tokens import TokenMint

    return TokenMint()


@pytest.fixture
def mint(_mint_key):
    """Tokens signed in-process; this process's verifier trusts the mint's key for the test."""
    return _mint_key.install()


@pytest.fixture
def as_role(client, mint):
    """``as_role("catalogue_manager", user_id=...)``: an :class:`Api` acting with such a token
    (staff roles make it ``is_staff``; ``None``: no token at all)."""
    from .api import Api

    def make(*roles: str | None, **claims):
        if roles == (None,):
            return Api(client, {})
        roles = roles or ("customer",)
        claims.setdefault("is_staff", roles != ("customer",))
        return Api(client, mint.headers(roles=list(roles), **claims))

    return make


@pytest.fixture(scope="session")
def rabbitmq_vhost():
    """This run's own vhost on the real RabbitMQ; deleted at the end of the session."""
    backing.require("rabbitmq")
    url = backing.create_vhost()
    yield url
    with contextlib.suppress(Exception):
        backing.delete_vhost()


@pytest.fixture
def real_services():
    """Require PostgreSQL, RabbitMQ and Redis (skip when unreachable, fail under CI)."""
    backing.require("postgres", "rabbitmq", "redis")


@pytest.fixture
def harness_factory(tmp_path_factory):
    """Make harnesses (``profile="real"`` or ``"embedded"``); every process stops at teardown."""
    from .processes import Harness

    made: list[Harness] = []

    def make(profile: str = "real", **kwargs) -> Harness:
        if profile == "real":
            backing.require("postgres", "rabbitmq", "redis")
            kwargs.setdefault("broker_url", backing.create_vhost())
        harness = Harness(tmp_path_factory.mktemp(f"harness-{profile}"), profile=profile, **kwargs)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.cleanup()
