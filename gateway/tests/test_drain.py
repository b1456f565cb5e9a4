"""A web process stops without failing a request: the container's own command (granian through
``service_kit.entrypoints web``, two workers, ``--workers-kill-timeout 30``) in front of an
upstream that takes 2 s to answer. SIGTERM arrives while requests are in flight: every one of them
is answered 200, then the process ends by itself, well within the chart's grace period (45 s,
less its 5 s preStop pause)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness, Proc, free_port, wait_for
from service_kit.platform import BY_NAME

from .doubles import RecordingUpstream, call, json_reply

GATEWAY = BY_NAME["gateway"]
SLOW = 2.0
IN_FLIGHT = 6


def slow(seen):
    time.sleep(SLOW)
    return json_reply(200, {"results": [], "count": 0})


@pytest.fixture
def gateway_and_upstream(tmp_path):
    backing.require("postgres", "redis")
    harness = Harness(tmp_path, profile="real")
    # Its own cache from the start: a circuit an earlier test opened on "product" (a hung
    # upstream) in this run's cache would answer 503 here.
    backing.flush_cache_prefix(harness.suffix)
    upstream = RecordingUpstream(slow)
    try:
        harness.migrate(GATEWAY)
        port = free_port()
        env = harness.env_for(
            GATEWAY,
            PRODUCT_SERVICE_URL=upstream.url,
            SERVICE=GATEWAY.folder,
            HOST="127.0.0.1",
            PORT=str(port),
            WEB_WORKERS="2",
        )
        proc = Proc(
            "gateway.web",
            [sys.executable, "-m", "service_kit.entrypoints", "web"],
            GATEWAY.path,
            env,
            tmp_path / "gateway.web.log",
            port=port,
        ).start()
        harness.procs.append(proc)
        yield proc.wait_http("/healthz"), upstream
    finally:
        harness.cleanup()
        upstream.close()


def test_sigterm_lets_every_request_in_flight_finish(gateway_and_upstream):
    gateway, upstream = gateway_and_upstream
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        futures = [
            pool.submit(call, gateway.url, "GET", f"/api/v1/products/?n={n}")
            for n in range(IN_FLIGHT)
        ]
        # every request has reached the upstream, which holds each for SLOW seconds
        wait_for(
            lambda: len(upstream.requests) >= IN_FLIGHT,
            timeout=SLOW * 5,
            what="every request at the upstream",
        )
        signalled = time.monotonic()
        os.killpg(gateway.popen.pid, signal.SIGTERM)
        answers = [future.result(timeout=30) for future in futures]
    assert [answer.status_code for answer in answers] == [200] * IN_FLIGHT, answers
    try:
        code = gateway.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the gateway did not stop after draining:\n{gateway.tail()}")
    took = time.monotonic() - signalled
    assert code == 0, gateway.tail()
    assert took < 40 - 5, took  # the chart's grace period less its preStop pause
