"""A hung auth_service must not stall the services that verify its tokens: on real processes,
auth_service frozen with SIGSTOP while product_service, whose key set is always past its refresh
age, keeps serving authenticated reads at the latency it had before."""

from __future__ import annotations

import signal
import statistics
import threading
import time
import urllib.request

import pytest
from platform_helpers import (
    AUTH,
    PASSWORD,
    PRODUCT,
)

from platform_tools.testing import backing
from platform_tools.testing.client import post_json
from platform_tools.testing.processes import Harness

JWKS_TIMEOUT = 2.0
READERS = 8


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("outage"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        product = harness.start_web(
            PRODUCT,
            AUTH_SERVICE_URL=auth.url,
            JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json",
            # Always past its refresh age: every read would like a fresh key set.
            JWT_JWKS_CACHE_SECONDS="0",
            JWT_JWKS_TIMEOUT=str(JWKS_TIMEOUT),
        )
        yield auth, product
    finally:
        harness.cleanup()


def access_token(auth) -> str:
    email = "reader@example.com"
    status, _, body = post_json(
        f"{auth.url}/api/v1/auth/register/", {"email": email, "password": PASSWORD}
    )
    assert status == 201, body
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200, pair
    return pair["access"]


def read_for(product, token: str, seconds: float) -> list[float]:
    """Authenticated reads by READERS threads at once until ``seconds`` have passed: each
    read's duration (every read must answer 200)."""
    request = urllib.request.Request(
        f"{product.url}/api/v1/products/?page_size=1", headers={"Authorization": f"Bearer {token}"}
    )
    durations: list[float] = []
    failures: list[object] = []
    deadline = time.monotonic() + seconds

    def reader() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    status = response.status
            except OSError as exc:
                failures.append(exc)
                return
            durations.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=reader) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    return durations


def test_authenticated_reads_keep_their_latency_while_auth_service_hangs(platform):
    auth, product = platform
    token = access_token(auth)
    before = read_for(product, token, 2.0)

    auth.signal(signal.SIGSTOP)
    try:
        # Long enough for several refresh attempts, each timing out against the hung issuer.
        during = read_for(product, token, JWKS_TIMEOUT * 2 + 1)
        product.wait_log("auth.jwks_unavailable", timeout=JWKS_TIMEOUT * 3)
    finally:
        auth.signal(signal.SIGCONT)

    usual = statistics.median(before)
    assert len(during) >= len(before), (len(during), len(before))
    assert statistics.median(during) <= usual * 3 + 0.02, (statistics.median(during), usual)
    assert max(during) < JWKS_TIMEOUT, (max(during), usual)  # nobody waited on the issuer
    assert read_for(product, token, 0.5)  # and on when it is back
