"""Another service's endpoint stood in for by a real HTTP server on loopback, for a service's own
tests: the call still goes through the kit's HTTP client (its pool, token, timeouts, breaker).

    class Catalogue(JsonStub):
        def answer(self, request):
            return 200, {"results": [...]}

    url = Catalogue().start()   # settings.UPSTREAMS["product"] = url; .stop() at the end

or, in a fixture, ``with upstream_stub(settings, "product", Catalogue()) as stub: yield stub``
(the upstream pointed at the stub, its circuit breaker closed before and after).

Each GET is recorded in ``requests`` as ``{"path", "query" (``parse_qs`` lists), "auth", "host"}``.

Any other server a test runs in a thread starts with ``serve(server)``: its ``shutdown()`` then
returns within ``POLL_INTERVAL`` instead of the standard library's half second, which a fixture
around every test would pay each time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: how often a served server looks for a shutdown request (seconds)
POLL_INTERVAL = 0.02


def serve(server: BaseServer) -> threading.Thread:
    """``server.serve_forever()`` in a daemon thread, started; ``server.shutdown()`` stops it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
    )
    thread.start()
    return thread


@dataclass
class JsonStub:
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)

    def answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one recorded request."""
        raise NotImplementedError

    def start(self) -> str:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                request = {
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "auth": self.headers.get("Authorization"),
                    "host": self.headers.get("Host"),
                }
                stub.requests.append(request)
                status, body = stub.answer(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve(self.server)
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reset_breaker(upstream: str) -> None:
    """Close ``upstream``'s circuit breaker (shared through the cache) as the settings make it."""
    from django.conf import settings

    from service_kit.http import breaker_for

    config = settings.HTTP_CLIENT
    breaker_for(
        upstream,
        failures=config["BREAKER_FAILURES"],
        reset_timeout=config["BREAKER_RESET_TIMEOUT"],
    ).reset()


@contextmanager
def upstream_stub(settings: Any, upstream: str, stub: Any) -> Iterator[Any]:
    """``upstream`` of ``settings.UPSTREAMS`` served by ``stub`` (started here, stopped after),
    its circuit breaker closed before and after."""
    settings.UPSTREAMS = {**settings.UPSTREAMS, upstream: stub.start()}
    reset_breaker(upstream)
    try:
        yield stub
    finally:
        stub.stop()
        reset_breaker(upstream)
