"""The rolling restart's customers (platform_tools.testing.rolling.Load) against two small HTTP
servers standing in for the gateway's instances: phases, endpoints, failures, waiting."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from platform_tools.testing.processes import wait_for
from platform_tools.testing.rolling import Load, percentile
from platform_tools.testing.stubs import serve


class Gateway(BaseHTTPRequestHandler):
    refuse = False

    def do_GET(self):
        self.answer(503 if self.refuse else 200, {"results": []})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.05)
        self.answer(503 if self.refuse else 201, {"id": f"order-{time.monotonic_ns()}"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateways():
    servers = []
    for refuse in (False, True):
        handler = type("Handler", (Gateway,), {"refuse": refuse})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        serve(server)
        servers.append(server)
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_requests_are_kept_by_phase_and_endpoint(gateways):
    good, refusing = gateways
    load = Load([good], "token", "product").start(orders=20, reads=50)
    load.flowing(answers=10, orders=3)
    load.phase = "restart"
    with load.lock:
        load.endpoints = [good, refusing]
    wait_for(
        lambda: (
            load.count("read", phase="restart", ok=False) >= 3
            and load.count("read", phase="restart", ok=True) >= 3
        ),
        timeout=20,
        what="reads of the restart phase served by both instances",
    )
    load.stop()

    assert not +load.in_flight  # every request sent has its answer
    assert load.served[refusing] == 0 and load.served[good] == sum(o.ok for o in load.outcomes)
    assert load.count("read", phase="steady", ok=True) >= 10
    assert load.count("order", phase="steady", ok=True) >= 3
    # what the refusing instance answered failed, each named with its phase and status (a
    # request due in the steady phase may have been sent after the switch)
    failures = load.failures
    assert failures and all(f.split(": ")[1].startswith("503") for f in failures)
    assert "read (restart)" in {f.split(":")[0] for f in failures}
    assert len(load.orders) == load.count("order", ok=True)
    # latency counts from each request's scheduled time: at least the order's 50 ms
    orders = [o.ms for o in load.outcomes if o.kind == "order"]
    assert percentile(orders, 50) >= 50
    # stopped means stopped: no thread left to send, nothing in flight
    assert load.threads and not any(thread.is_alive() for thread in load.threads)
    assert not +load.in_flight


def test_flowing_waits_for_every_endpoint(gateways, monkeypatch):
    monkeypatch.setattr("platform_tools.testing.rolling.FLOWING_TIMEOUT", 1.5)
    load = Load(gateways, "token", "product").start(orders=10, reads=50)
    try:
        load.flowing(answers=0, orders=0)  # nothing asked: at once
        with pytest.raises(AssertionError, match="every gateway serving"):
            load.flowing(answers=1, orders=0)  # the refusing one serves nothing
    finally:
        load.stop()


def test_percentile_is_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([5, 1, 3, 2, 4], 99) == 5
    assert percentile([], 50) != percentile([], 50)  # NaN
