"""A small HTTP/1.1 client for the edge's upstream calls: keep-alive pool, streaming both ways.

Why not urllib3 (what the services' ``ServiceClient`` uses): on the gateway's hot path one
exchange through urllib3 and ``http.client`` cost ~170 µs of CPU (header validation by regular
expression, the ``email`` package parsing response headers, layers of wrappers), against ~15 µs
for the same bytes on a socket. The gateway does nothing else as often, so it speaks the little
HTTP/1.1 it needs itself:

* requests: the head (and a small body) in one ``sendall``; a large body as it is read (with its
  ``Content-Length``), or chunked when the client gave no length;
* answers: status line and headers parsed from one buffer; bodies by ``Content-Length``, chunked
  (decoded: the WSGI server frames the answer again) or until the upstream closes;
* connections kept alive unless either side says ``close``; an idle connection is checked with a
  non-blocking peek before reuse (one the upstream closed meanwhile is dropped, not used).

Errors are ``ConnectError`` (nothing was sent), ``SendError`` (the request did not get through
whole), ``ReadTimeout`` and ``ResponseError`` (the request was sent; the answer did not come).
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections import deque

from service_kit.ops import is_length

MAX_HEAD = 64 * 1024  # bytes of status line and headers accepted from an upstream
RECV = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})


class UpstreamError(Exception):
    pass


class ConnectError(UpstreamError):
    """No connection could be made (refused, unreachable, name unknown): nothing was sent."""


class ConnectTimeout(ConnectError):
    pass


class SendError(UpstreamError):
    """The connection broke while the request was being written: the upstream cannot have
    received a whole request."""


class ReadTimeout(UpstreamError):
    pass


class ResponseError(UpstreamError):
    """The connection broke (or the answer was not HTTP) after the request was sent."""


class Connection:
    __slots__ = ("buffer", "reused", "sock")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.reused = False

    def dropped(self) -> bool:
        """True when the idle connection was closed (or sent something unasked) meanwhile:
        either makes it readable. (A zero-timeout poll: a socket with a timeout would wait for
        it before a non-blocking ``recv``.)"""
        if self.buffer:
            return True
        poller = select.poll()
        try:
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def recv(self) -> bytes:
        """The next bytes from the upstream (ResponseError at its end)."""
        try:
            data = self.sock.recv(RECV)
        except TimeoutError as exc:
            raise ReadTimeout("the upstream did not answer in time") from exc
        except OSError as exc:
            raise ResponseError(f"the connection broke: {exc}") from exc
        if not data:
            raise ResponseError("the upstream closed the connection")
        return data

    def fill(self) -> None:
        self.buffer += self.recv()


class Pool:
    """Keep-alive connections to one ``host:port`` (the most recently used first)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        maxsize: int,
    ):
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.maxsize = maxsize
        self.idle: deque[Connection] = deque()  # append/pop are atomic: no lock needed

    def get(self) -> Connection:
        idle = self.idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if conn.dropped():
                conn.close()
                continue
            conn.reused = True
            return conn
        return self.connect()

    def connect(self) -> Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting to {self.host}:{self.port} timed out") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return Connection(sock)

    def put(self, conn: Connection) -> None:
        if len(self.idle) < self.maxsize:
            self.idle.append(conn)
        else:
            conn.close()

    def clear(self) -> None:
        while self.idle:
            try:
                self.idle.pop().close()
            except IndexError:
                break


def request_head(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if "\n" in value or "\r" in value:
            continue  # never let a value end the header early
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _parse_headers(rest: bytes) -> tuple[list[tuple[str, str]], int | None, bool, str]:
    """An answer's header lines: all of them, its Content-Length, whether it is chunked and its
    Connection header (lower case)."""
    headers = []
    length = None
    chunked = False
    connection = ""
    for line in rest.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        headers.append((name, value))
        lower = name.lower()
        if lower == "content-length":
            if not is_length(value):
                raise ResponseError("the upstream's Content-Length is not a number")
            length = int(value)
        elif lower == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif lower == "connection":
            connection = value.lower()
    return headers, length, chunked, connection


class Response:
    """An upstream's answer: status and headers read, the body read on demand."""

    __slots__ = (
        "chunk_left",
        "conn",
        "done",
        "headers",
        "keep_alive",
        "mode",
        "pool",
        "reason",
        "remaining",
        "status",
    )

    def __init__(self, pool: Pool, conn: Connection, method: str):
        self.pool = pool
        self.conn = conn
        self.chunk_left = 0
        self.done = False
        version, rest = self._read_status()
        self.headers, length, chunked, connection = _parse_headers(rest)
        self.keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        if method == "HEAD" or self.status in NO_BODY_STATUSES:
            self.mode, self.remaining = "length", 0
        elif chunked:
            self.mode, self.remaining = "chunked", 0
        elif length is not None:
            self.mode, self.remaining = "length", length
        else:
            self.mode, self.remaining = "close", 0
            self.keep_alive = False
        if self.mode == "length" and self.remaining == 0:
            self.done = True

    def _read_status(self) -> tuple[str, bytes]:
        """Sets ``status`` and ``reason`` from the final answer's head; its version and headers.

        1xx answers (100 Continue, 103 Early Hints) that come before it are skipped."""
        while True:
            head = self._read_head()
            status_line, _, rest = head.partition(b"\r\n")
            try:
                version, status, reason = [*status_line.decode("latin-1").split(" ", 2), ""][:3]
                self.status = int(status)
            except ValueError as exc:
                raise ResponseError(f"not an HTTP status line: {status_line[:80]!r}") from exc
            if not version.startswith("HTTP/1."):
                raise ResponseError(f"not an HTTP/1 answer: {status_line[:80]!r}")
            if not 100 <= self.status < 200 or self.status == 101:
                self.reason = reason
                return version, rest

    def _read_head(self) -> bytes:
        conn = self.conn
        while True:
            end = conn.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head, conn.buffer = conn.buffer[:end], conn.buffer[end + 4 :]
                return head
            if len(conn.buffer) > MAX_HEAD:
                raise ResponseError("the upstream's headers are too large")
            conn.fill()

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    # -- the body ---------------------------------------------------------------------------
    def read(self) -> bytes:
        """The whole (rest of the) body."""
        if self.mode == "length" and not self.done:
            conn, need = self.conn, self.remaining
            parts, received = [conn.buffer], len(conn.buffer)
            while received < need:
                data = conn.recv()
                parts.append(data)
                received += len(data)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            data, conn.buffer = data[:need], data[need:]
            self.remaining = 0
            self.done = True
            return data
        parts = []
        while True:
            part = self.read1()
            if not part:
                return b"".join(parts)
            parts.append(part)

    def read1(self, amount: int = RECV) -> bytes:
        """The next piece of the body as it arrives (b"" at its end)."""
        if self.done:
            return b""
        conn = self.conn
        if self.mode == "length":
            if not conn.buffer:
                conn.fill()
            take = min(self.remaining, amount, len(conn.buffer))
            data, conn.buffer = conn.buffer[:take], conn.buffer[take:]
            self.remaining -= take
            self.done = self.remaining == 0
            return data
        if self.mode == "close":
            if not conn.buffer:
                try:
                    conn.fill()
                except ResponseError:
                    self.done = True  # its end is the body's end
                    return b""
            data, conn.buffer = conn.buffer[:amount], conn.buffer[amount:]
            return data
        # chunked
        if self.chunk_left == 0:
            size = self._chunk_size()
            if size == 0:
                self._trailers()
                self.done = True
                return b""
            self.chunk_left = size
        if not conn.buffer:
            conn.fill()
        take = min(self.chunk_left, amount, len(conn.buffer))
        data, conn.buffer = conn.buffer[:take], conn.buffer[take:]
        self.chunk_left -= take
        if self.chunk_left == 0:
            self._line()  # the CRLF after the chunk's data
        return data

    def _line(self) -> bytes:
        conn = self.conn
        while True:
            end = conn.buffer.find(b"\r\n")
            if end >= 0:
                line, conn.buffer = conn.buffer[:end], conn.buffer[end + 2 :]
                return line
            if len(conn.buffer) > MAX_HEAD:
                raise ResponseError("a chunk header is too long")
            conn.fill()

    def _chunk_size(self) -> int:
        line = self._line().split(b";", 1)[0].strip()
        try:
            return int(line, 16)
        except ValueError as exc:
            raise ResponseError(f"bad chunk size {line[:20]!r}") from exc

    def _trailers(self) -> None:
        while self._line():
            pass

    # -- the connection ---------------------------------------------------------------------
    def release(self) -> None:
        """Back to the pool when the body was read whole and both sides keep it alive."""
        # None once given back: a read after that fails at once (typed as the live connection)
        conn, self.conn = self.conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self.done and self.keep_alive and not conn.buffer:
            self.pool.put(conn)
        else:
            conn.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None  # type: ignore[assignment]  # as in release()
        if conn is not None:
            conn.close()


def exchange(
    pool: Pool,
    method: str,
    target: str,
    headers: dict[str, str],
    body,
    *,
    host: str,
    length: int | None = None,
    chunked: bool = False,
) -> Response:
    """Send one request on a pooled connection; the answer's head is read, its body is not.

    ``body`` is None, bytes (sent with the head) or an object with ``read(n)`` (streamed: with
    ``Content-Length: length``, or chunked)."""
    conn = pool.get()
    try:
        if body is None or isinstance(body, bytes):
            if body is not None or method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
                headers["Content-Length"] = str(len(body or b""))
            payload = request_head(method, target, host, headers) + (body or b"")
            _send(conn, payload)
        else:
            if chunked:
                headers["Transfer-Encoding"] = "chunked"
            else:
                headers["Content-Length"] = str(length)
            _send(conn, request_head(method, target, host, headers))
            while True:
                block = body.read(RECV)
                if not block:
                    break
                _send(conn, b"%x\r\n%b\r\n" % (len(block), block) if chunked else block)
            if chunked:
                _send(conn, b"0\r\n\r\n")
        return Response(pool, conn, method)
    except BaseException:
        conn.close()
        raise


def _send(conn: Connection, data: bytes) -> None:
    try:
        conn.sock.sendall(data)
    except TimeoutError as exc:
        raise SendError("the upstream did not take the request in time") from exc
    except OSError as exc:
        raise SendError(f"the connection broke while sending: {exc}") from exc
