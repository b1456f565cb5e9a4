"""Every address a test's processes use is the test's own: a platform running beside the tests
on the default ports (``make up``) is never reached by the harness's processes."""

from __future__ import annotations

import errno
import json
import os
import socket
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from platform_tools.testing.stubs import serve
from service_kit import running
from service_kit.conf import SERVICE_PORTS
from service_kit.platform import BY_NAME


def _peer_pids(client_port: int, server_port: int) -> list[int]:
    """The processes holding the loopback connection from ``client_port`` to ``server_port``."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in Path("/proc/net", table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].rpartition(":")[2], fields[2].rpartition(":")[2]
            if (int(local, 16), int(remote, 16)) == (client_port, server_port):
                inodes.add(int(fields[9]))
    return running.socket_holders(inodes)


class Impostor(BaseHTTPRequestHandler):
    """Answers every request 200, as a product_service of another platform would, and counts
    each request with the processes that sent it (anything else on this machine may call the
    default port too: a platform beside the tests, another suite's process)."""

    seen: list[tuple[str, list[int]]] = []

    def do_GET(self):
        senders = _peer_pids(self.client_address[1], self.server.server_address[1])
        Impostor.seen.append((self.path, senders))
        body = json.dumps({"results": [], "impostor": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def on_the_default_port():
    """Something listening on product_service's default port (``make up``'s address); ``None``
    when something else already listens there (a ``make up`` beside the tests)."""
    Impostor.seen = []
    try:
        server = ThreadingHTTPServer(("127.0.0.1", SERVICE_PORTS["product"]), Impostor)
    except OSError as error:
        assert error.errno == errno.EADDRINUSE, error
        yield None
        return
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


def test_the_harness_gateway_never_reaches_a_service_on_the_default_ports(
    harness_factory, on_the_default_port
):
    harness = harness_factory("embedded")
    gateway = harness.start_web(BY_NAME["gateway"], wait=False).wait_http("/healthz")
    with socket.create_connection(("127.0.0.1", SERVICE_PORTS["product"]), timeout=5):
        pass  # the default port does answer
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{gateway.url}/api/v1/products/", timeout=30)
    error = json.loads(answer.value.read())["error"]
    assert (answer.value.code, error["code"]) == (503, "upstream_unavailable"), error
    if on_the_default_port is not None:
        # the attribution works: this test's own request is seen as this process's
        urllib.request.urlopen(f"http://127.0.0.1:{SERVICE_PORTS['product']}/probe", timeout=5)
        assert ("/probe", [os.getpid()]) in Impostor.seen
        ours = running.descendants([gateway.popen.pid]) | {gateway.popen.pid}
        assert [path for path, senders in Impostor.seen if ours & set(senders)] == []
    # the gateway was told the harness's own product port, which nobody has taken
    assert gateway.env["PRODUCT_SERVICE_URL"] == f"http://127.0.0.1:{harness.port_for('product')}"
    assert harness.port_for("product") != SERVICE_PORTS["product"]


def test_a_service_started_later_is_reached_at_the_address_given_before(harness_factory):
    """The gateway starts first, told product_service's address; product starts there after."""
    harness = harness_factory("embedded")
    gateway = harness.start_web(BY_NAME["gateway"], wait=False).wait_http("/healthz")
    product = harness.start_web(BY_NAME["product"])
    assert product.port == harness.port_for("product")
    with urllib.request.urlopen(f"{gateway.url}/api/v1/products/", timeout=30) as response:
        assert response.status == 200
        assert "impostor" not in json.loads(response.read())
