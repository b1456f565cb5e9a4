"""Test doubles for the edge's tests: an upstream that records what it is sent, one that never
answers, and a raw HTTP client whose headers are exactly the ones given."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from platform_tools.testing.faults import SocketUpstream
from platform_tools.testing.stubs import serve


@dataclass
class Seen:
    method: str
    target: str  # path and query as sent on the request line
    headers: Message
    body: bytes
    chunked: bool

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


Reply = tuple[int, list[tuple[str, str]], bytes | Iterable[bytes]]


def json_reply(status: int = 200, body: Any = None, headers=()) -> Reply:
    data = json.dumps({"ok": True} if body is None else body).encode()
    return status, [("Content-Type", "application/json"), *headers], data


def _send_reply(handler: BaseHTTPRequestHandler, status: int, headers, content) -> None:
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    if isinstance(content, bytes | bytearray):
        if not any(name.lower() == "content-length" for name, _ in headers):
            handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(content)
        return
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for block in content:
        handler.wfile.write(b"%x\r\n%b\r\n" % (len(block), block))
        handler.wfile.flush()
    handler.wfile.write(b"0\r\n\r\n")


class RecordingUpstream:
    """A threaded HTTP/1.1 server (keep-alive) recording every request; ``respond(seen)``
    makes the answer (default: 200 ``{"ok": true}``). A body given as an iterable of bytes is
    sent chunked, block by block."""

    def __init__(self, respond: Callable[[Seen], Reply] | None = None, port: int = 0):
        self.respond = respond or (lambda seen: json_reply())
        self.requests: list[Seen] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes

            def answer(self) -> None:
                chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                body = self.read_chunked() if chunked else self.read_length()
                seen = Seen(self.command, self.path, self.headers, body, chunked)
                upstream.requests.append(seen)
                status, headers, content = upstream.respond(seen)
                _send_reply(self, status, headers, content)

            def read_length(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def read_chunked(self) -> bytes:
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_HEAD = do_OPTIONS = do_PUT = do_DELETE = do_POST = do_PATCH = answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = serve(self.server)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def count(self) -> int:
        return len(self.requests)

    def last(self) -> Seen:
        return self.requests[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def SilentUpstream() -> SocketUpstream:
    """Accepts connections and reads, but never answers (a hung upstream)."""
    return SocketUpstream(hang_up=False)


class Answer:
    """An HTTP answer, shaped like Django's test response where the kit's helpers look
    (``status_code``, ``response["Header"]``, ``.get()``, ``.content``)."""

    def __init__(self, status: int, headers: Message, content: bytes, took: float):
        self.status_code = status
        self.headers = headers
        self.content = content
        self.took = took  # seconds, request sent to body read

    def __getitem__(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return name in self.headers

    def get(self, name: str, default=None):
        return self.headers.get(name, default)

    def get_all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []

    def json(self) -> Any:
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Answer {self.status_code} {self.content[:200]!r}>"


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    chunks: Iterable[bytes] | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One request with exactly ``headers`` (plus ``Host``, and ``Content-Length`` for
    ``body``); ``chunks`` sends the body chunked."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        started = time.perf_counter()
        conn.putrequest(method, path, skip_accept_encoding=True)
        items = headers.items() if isinstance(headers, dict) else headers or []
        for name, value in items:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        if chunks is not None:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()

        def send() -> None:
            try:
                if body is not None:
                    conn.send(body)
                if chunks is not None:
                    for chunk in chunks:
                        conn.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    conn.send(b"0\r\n\r\n")
            except OSError:
                pass  # answered early (a 413, say) and closed: the answer is still to be read

        # Sent beside the reading, as a browser does: a server may answer before the body ends.
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        response = conn.getresponse()
        content = response.read()
        took = time.perf_counter() - started
        sender.join(timeout)
        return Answer(response.status, response.headers, content, took)
    finally:
        conn.close()


def raw(base_url: str, data: bytes, *, timeout: float = 30.0) -> Answer:
    """One request written byte for byte as given (a malformed chunked body, say): its answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        started = time.perf_counter()
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        content = response.read()
        return Answer(response.status, response.headers, content, time.perf_counter() - started)


def chunked(
    method: str, path: str, headers: dict[str, str], chunks: Iterable[bytes], *, framing=None
) -> bytes:
    """A whole request with its body chunked (``framing``: the body's bytes as they are to go,
    in place of ``chunks`` framed properly)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += "Transfer-Encoding: chunked\r\n\r\n"
    if framing is None:
        framing = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return head.encode() + framing


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
