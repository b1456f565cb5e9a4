"""``make smoke`` against a real platform booted here (auth, product and the gateway on PostgreSQL,
RabbitMQ and Redis): it passes when the platform works, and fails, saying why, when it does not."""

from __future__ import annotations

import subprocess
import sys

import pytest
from platform_helpers import (
    AUTH,
    GATEWAY,
    PRODUCT,
)

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness, free_port


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("smoke"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        # as a release does: migrate, make the signing key, then start
        harness.migrate(AUTH)
        rotate = subprocess.run(
            [sys.executable, "manage.py", "rotate_signing_key"],
            cwd=AUTH.path,
            env=harness.env_for(AUTH),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rotate.returncode == 0, rotate.stderr[-3000:]
        auth = harness.start_web(AUTH, migrate=False)
        keys = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        product = harness.start_web(PRODUCT, **keys)
        upstreams = {"AUTH_SERVICE_URL": auth.url, "PRODUCT_SERVICE_URL": product.url, **keys}
        # only what is booted here is asked for readiness
        gateway = harness.start_web(GATEWAY, READYZ_UPSTREAMS="auth,product", **upstreams)
        yield {"harness": harness, "gateway": gateway, "upstreams": upstreams}
    finally:
        harness.cleanup()


def smoke(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-m", "platform_tools.testing.smoke", url, *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_working_platform_passes(platform):
    before = platform["harness"].query(AUTH, "SELECT count(*) FROM accounts_user")[0][0]

    result = smoke(platform["gateway"].url)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for check in ("ready", "jwks", "catalogue", "register", "sign_in", "me", "erase"):
        assert any(line.startswith(f"ok   {check} ") for line in lines), result.stdout
    assert "every upstream ready: auth, product" in result.stdout
    assert f"smoke: passed against {platform['gateway'].url}" in result.stdout
    # the throwaway customer was made, through the gateway, and erased again
    rows = platform["harness"].query(
        AUTH,
        "SELECT email, erased_at IS NOT NULL FROM accounts_user ORDER BY date_joined DESC",
    )
    assert len(rows) == before + 1
    email, erased = rows[0]
    assert erased and email.startswith("erased+") and email.endswith("@invalid")


def test_an_upstream_that_is_down_fails_the_run(platform):
    harness = platform["harness"]
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = harness.start_web(
        GATEWAY,
        migrate=False,
        wait=False,  # it never becomes ready
        READYZ_UPSTREAMS="auth,product",
        **{**platform["upstreams"], "PRODUCT_SERVICE_URL": dead},
    ).wait_http("/healthz")
    try:
        result = smoke(gateway.url, "--wait", "3")
    finally:
        gateway.stop()

    assert result.returncode == 1
    assert "FAIL ready      GET /status answered 503, not ready: product" in result.stdout
    assert f"smoke: FAILED against {gateway.url}" in result.stderr


def test_a_gateway_that_routes_elsewhere_fails_the_run(platform):
    """A gateway whose auth route leads to a service that is not auth (here: product) passes the
    readiness check, and the first check that needs auth says what came back."""
    harness = platform["harness"]
    upstreams = {
        **platform["upstreams"],
        "AUTH_SERVICE_URL": platform["upstreams"]["PRODUCT_SERVICE_URL"],
    }
    gateway = harness.start_web(
        GATEWAY, migrate=False, READYZ_UPSTREAMS="auth,product", **upstreams
    )
    try:
        result = smoke(gateway.url, "--wait", "0")
    finally:
        gateway.stop()

    assert result.returncode == 1
    assert "ok   ready " in result.stdout
    assert "FAIL jwks       GET /.well-known/jwks.json answered 404 not_found" in result.stdout


def test_nothing_listening_fails_at_once():
    url = f"http://127.0.0.1:{free_port()}"

    result = smoke(url, "--wait", "0")

    assert result.returncode == 1
    assert f"FAIL ready      GET /healthz: {url} is unreachable" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no URL: make smoke SMOKE_URL=https://"),
        (["staging.shop.example.com"], "is not an http(s) URL"),
    ],
)
def test_a_missing_or_bad_url_is_a_usage_error(args, message):
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-m", "platform_tools.testing.smoke", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
