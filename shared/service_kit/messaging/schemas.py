"""Message contracts: the payload schema of every message type (events and commands), by major
version, with who may send it.

A contract belongs to its service, as a file in its folder: ``<service>/contracts/messages/
<type>.v<MAJOR>.json`` (``{"type", "kind", "version": "MAJOR.MINOR", "senders"?, "schema"}``).
An event's file is in its producer's folder; a command's in the folder of the service that
carries it out (its input, as an HTTP endpoint's). The folder makes the ``owner``. The kit finds
the files when it loads (:func:`load_contracts`); an image carries every service's contracts
folder (shared/docker/Dockerfile), as a consumer validates what others produce.

Producers validate before they write the outbox; consumers validate before they apply, and send
a message that breaks its schema, or whose major they do not know, to dead letters instead of
half-applying it. A minor version only adds optional fields: a consumer of the major reads every
minor (unknown fields are ignored, a missing optional field gets its schema's ``default``).

Each type also says who may send it, the one place that decides it: an event comes only from its
``owner``; a command is carried out by its ``owner`` (queue ``<owner>.<verb>``) and sent only by
its ``senders``. Consumers check it against the broker's authenticated sender
(service_kit.messaging.consumer) and the broker definitions are validated against it
(platform_tools.testing.delivery.compose).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from service_kit.conf import REPO_ROOT

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
VERSION_RE = re.compile(r"^([1-9][0-9]*)\.([0-9]+)$")
CONTRACT_FILE_RE = re.compile(r"^(?P<type>[a-z_]+(?:\.[a-z_]+)+)\.v(?P<major>[1-9][0-9]*)\.json$")

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "version", "occurred_at", "producer", "data"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "minLength": 32, "maxLength": 36},
        "type": {"type": "string", "pattern": r"^[a-z_]+(\.[a-z_]+)+$"},
        # "MAJOR.MINOR"; an integer N (what the release before it sends) is N.0.
        "version": {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": VERSION_RE.pattern},
            ]
        },
        "occurred_at": {"type": "string", "minLength": 10},
        "producer": {"type": "string", "minLength": 1},
        "request_id": {"type": ["string", "null"]},
        "data": {"type": "object"},
        # W3C trace context (optional; a consumer without tracing ignores it).
        "trace": {
            "type": ["object", "null"],
            "properties": {
                "traceparent": {"type": "string", "maxLength": 55},
                "tracestate": {"type": "string", "maxLength": 512},
            },
        },
    },
}


def parse_version(version: int | str) -> tuple[int, int]:
    """``"2.1"`` → (2, 1); the integer ``1`` of the release before → (1, 0)."""
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version, 0
    match = VERSION_RE.match(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"version {version!r} is not MAJOR.MINOR")
    return int(match[1]), int(match[2])


def service_folder(service: str) -> str:
    """The folder of a service by its short name (``order`` → ``order_service``)."""
    return service if service == "gateway" else f"{service}_service"


@dataclass(frozen=True)
class Contract:
    """One major version of a message type, at its latest minor."""

    major: int
    minor: int
    schema: dict[str, Any]
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.schema)
        validator = Draft202012Validator(self.schema, format_checker=FORMAT_CHECKER)
        object.__setattr__(self, "validator", validator)

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    def errors(self, data: Any) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator.iter_errors(data)
        ]

    def defaulted(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with the schema's defaults for the optional fields it lacks (an older minor)."""
        properties = self.schema.get("properties", {})
        missing = {
            k: p["default"] for k, p in properties.items() if "default" in p and k not in data
        }
        return {**data, **missing} if missing else data


@dataclass
class MessageType:
    name: str
    kind: str = "event"  # or "command"
    owner: str = ""  # the producing service (event) or the one that carries it out (command)
    senders: tuple[str, ...] = ()  # who may send it: the owner of an event, a command's callers
    contracts: dict[int, Contract] = field(default_factory=dict)  # by major

    @property
    def latest(self) -> Contract:
        return self.contracts[max(self.contracts)]

    @property
    def version(self) -> str:
        return self.latest.version

    @property
    def schema(self) -> dict[str, Any]:
        return self.latest.schema

    def errors(self, data: Any) -> list[str]:
        return self.latest.errors(data)


class Registry(dict[str, MessageType]):
    def register(
        self,
        name: str,
        schema: dict[str, Any],
        *,
        owner: str,
        senders: tuple[str, ...] = (),
        version: int | str = "1.0",
        kind: str = "event",
    ) -> MessageType:
        """Add one major of a type. ``owner``: the service that publishes an event, or carries
        out a command (whose name is ``<owner>.<verb>``); ``senders``: the services that may
        send the command."""
        if kind == "event":
            senders = (owner,)
        elif not senders or name.split(".")[0] != owner:
            raise ValueError(f"command {name}: the owner is its prefix; name its senders")
        message_type = self.get(name)
        if message_type is None:
            message_type = self[name] = MessageType(name, kind, owner, tuple(senders))
        elif (message_type.kind, message_type.owner) != (kind, owner):
            raise ValueError(f"{name}: every major has the same kind and owner")
        major, minor = parse_version(version)
        message_type.contracts[major] = Contract(major, minor, schema)
        return message_type

    def owned_by(self, service: str, kind: str) -> list[str]:
        return sorted(n for n, t in self.items() if t.kind == kind and t.owner == service)

    def sent_by(self, service: str) -> list[str]:
        """The commands ``service`` may send."""
        return sorted(n for n, t in self.items() if t.kind == "command" and service in t.senders)


def contract_files(root: Path) -> list[Path]:
    """Every service's message contract files under ``root`` (a checkout or an image's /app)."""
    return sorted(root.glob("*/contracts/messages/*.json"))


def read_contract(path: Path, text: str | None = None) -> dict[str, Any]:
    """A contract file, checked against its name: ``<type>.v<MAJOR>.json`` holding that type
    and a ``version`` of that major."""
    document: dict[str, Any] = json.loads(path.read_text() if text is None else text)
    match = CONTRACT_FILE_RE.match(path.name)
    if match is None or document.get("type") != match["type"]:
        raise ValueError(f"{path}: named <type>.v<MAJOR>.json after the type it holds")
    if parse_version(document.get("version", ""))[0] != int(match["major"]):
        raise ValueError(
            f"{path}: its version {document.get('version')!r} is not major v{match['major']}"
        )
    return document


def load_contracts(target: Registry, root: Path = REPO_ROOT) -> None:
    for path in contract_files(root):
        document = read_contract(path)
        owner = path.parents[2].name.removesuffix("_service")
        target.register(
            document["type"],
            document["schema"],
            owner=owner,
            senders=tuple(document.get("senders", ())),
            version=document["version"],
            kind=document.get("kind", "event"),
        )


def read_declaration(service: str, root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """What a consumer reads (consumer-driven contracts): ``<service>/contracts/reads.json``,
    ``{"<type>": {"major": 1, "fields": {"<field>": "<JSON type>", "lines[].sku": "string"}}}``.
    Checked against every producer's contract by the tooling's contract suite."""
    path = root / service_folder(service) / "contracts" / "reads.json"
    if not path.is_file():
        return {}
    declaration: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return declaration


@functools.cache
def read_majors(service: str) -> dict[str, int]:
    """The major of each message type ``service`` reads (types it does not declare: any)."""
    return {name: int(entry["major"]) for name, entry in read_declaration(service).items()}


registry = Registry()
load_contracts(registry)
envelope_validator = Draft202012Validator(ENVELOPE_SCHEMA, format_checker=FORMAT_CHECKER)
