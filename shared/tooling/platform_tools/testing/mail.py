"""A mail server on loopback for tests: real processes send over SMTP, the test reads the mails.

    with MailSink() as mail:
        env["EMAIL_URL"] = mail.url            # smtp://127.0.0.1:<port>
        ...
        message = mail.wait_for(to="ada@example.com")
        message.get_content()

The real profile refuses a mail backend that delivers nothing (service_kit.checks), so every
harness on it sends its mail here. It speaks just enough SMTP for Django's SMTP backend (no TLS,
no authentication) and keeps every message in memory.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from email.message import EmailMessage

from platform_tools.testing.stubs import serve


class _Session(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 127.0.0.1 test mail sink")
        recipients: list[str] = []
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self.server.sink.received(self._data(), recipients)
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:  # RSET, NOOP, …
                self.reply("250 OK")

    def _data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)  # dot-stuffing
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class MailSink:
    """An SMTP server on a free loopback port, in a thread of the test process."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()  # guards messages, notified at each one
        self._server = _Server(("127.0.0.1", 0), _Session)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = serve(self._server)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def received(self, data: bytes, recipients: list[str]) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        message["X-Sink-Recipients"] = ", ".join(recipients)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def to(self, address: str) -> list[EmailMessage]:
        with self._arrived:
            return [m for m in self.messages if address in m["X-Sink-Recipients"].split(", ")]

    def wait_for(self, *, to: str, count: int = 1, timeout: float = 30.0) -> EmailMessage:
        """The ``count``-th mail to ``to`` once it has arrived (woken by its arrival)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.to(to)) >= count, timeout):
                what = f"mail #{count} to {to}"
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            return self.to(to)[count - 1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MailSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
