"""Secrets never shown: finds anything shaped like a JWT, a password reset token, a client secret
or a card token (the shapes of service_kit.ops.logs, which the log filter removes), and any
literal secret a test knows (the passwords it typed), in log files, pages and API answers.

    leaks = find_secrets(text, literals={"password": PASSWORD})
    assert not leaks, leaks

Used by the end-to-end run (every process's log, every API answer of the journeys) and by each
service's admin test (:func:`admin_pages_test`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from service_kit.ops.logs import SECRET_SHAPES

#: Places known to show a secret today, each fixed by another finding of issue 11 in flight:
#: (where, kind) → the finding. A leak found there is reported as known, not as a failure.
#: Empty this list once those fixes are merged; never add to it to make a test pass.
KNOWN_LEAKS: dict[tuple[str, str], str] = {
    # SimpleJWT's blacklist admin shows whole refresh tokens (finding 1: the admin goes).
    ("auth admin token_blacklist.outstandingtoken", "jwt"): "issue 11 finding 1",
    ("auth admin token_blacklist.blacklistedtoken", "jwt"): "issue 11 finding 1",
    # The outbox and the dead letters show the order's payment_token (finding 11).
    ("order admin service_kit.outboxmessage", "card_token"): "issue 11 finding 11",
    ("payment admin service_kit.deadletter", "card_token"): "issue 11 finding 11",
}


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} in …{self.excerpt}…"


def find_secrets(
    text: str, *, where: str = "", literals: dict[str, str] | None = None
) -> list[Leak]:
    """Every secret in ``text``: by shape, and each of ``literals`` (kind → value) as written."""
    found = []
    for kind, shape in SECRET_SHAPES.items():
        found += [_leak(where, kind, text, m.start(), m.end()) for m in shape.finditer(text)]
    for kind, value in (literals or {}).items():
        if value:
            found += [
                _leak(where, kind, text, m.start(), m.end())
                for m in re.finditer(re.escape(value), text)
            ]
    return found


def unknown(leaks: list[Leak]) -> list[Leak]:
    """The leaks that are not in :data:`KNOWN_LEAKS`."""
    return [leak for leak in leaks if (leak.where.split(" /")[0], leak.kind) not in KNOWN_LEAKS]


def find_in_logs(folder: Path, *, literals: dict[str, str] | None = None) -> list[Leak]:
    """Every secret in every log file under ``folder`` (one process's output each)."""
    found = []
    for path in sorted(Path(folder).rglob("*.log")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += find_secrets(line, where=f"{path.name}:{number}", literals=literals)
    return found


def _leak(where: str, kind: str, text: str, start: int, end: int) -> Leak:
    return Leak(where, kind, text[max(0, start - 40) : min(len(text), end + 20)])
