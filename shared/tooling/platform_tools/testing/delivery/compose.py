"""The compose validator: ``compose/`` (the whole platform on one host).

``docker-compose config`` (the Debian 1.29 client; no engine needed) reads the file with
``compose/.env.example`` as its env file, for the core alone, each profile and all of them. Then
what docker-compose does not check but the stack needs, on the file as docker-compose resolves
it (and, for secrets and variables, as it is written):

- every service of the platform has its ``migrate`` one-shot and its ``web`` (and, with a
  worker, ``worker`` and ``beat``), built from the one Dockerfile with its own ``SERVICE``;
  each web, worker and beat waits for its migrate to complete and for PostgreSQL, RabbitMQ and
  Redis to be healthy; every long-running container has a healthcheck;
- no secret is written in the compose file (secret-named variables, URL passwords and secret
  command-line options are all ``${…}`` references), and ``.env.example`` defines every variable
  the file references (and nothing it does not);
- auth_service's processes send mail over SMTP (``EMAIL_URL``; the real profile refuses the
  console), to a server that is part of the stack or outside it by its domain name;
- files mounted from the repository exist (the chart's alert rules and dashboards among them);
- the RabbitMQ definitions are valid JSON, render with the example's passwords, and give each
  service one user whose permissions match what the kit does: its own queues (from its settings'
  ``consumes`` and ``commands``), publishing only the event types it owns (topic permissions on
  ``domain_events``), binding only those it consumes, sending only the commands the kit's
  message registry lets it send and writing only its own retry and task keys (topic permissions
  on ``domain_commands``), and never the default exchange; the chart ships the same definitions;
- ``promtool check config`` passes on the Prometheus config with the rule file where compose
  mounts it, and every web and worker is a target labelled with its ``service`` and
  ``component``; Prometheus keeps exemplars and negotiates OpenMetrics first (the only format
  carrying them); Grafana's datasource and dashboards provider point where compose mounts them,
  and the Prometheus datasource's exemplars open their trace in a Jaeger datasource;
- the logs and traces of the ``observability`` profile (:mod:`.telemetry`): Logstash's pipeline
  parsed and its redaction the kit's, Kibana's data view, the OpenTelemetry Collector's config.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from service_kit.conf import REPO_ROOT

from . import telemetry
from .compose_files import COMPOSE_DIR, bind_mounts

COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DEFINITIONS = COMPOSE_DIR / "rabbitmq/definitions.json"
#: The definitions the chart ships for the operator's broker (the chart runs no RabbitMQ).
CHART_DEFINITIONS = Path("charts/platform/files/rabbitmq/definitions.json")
RENDER_DEFINITIONS = COMPOSE_DIR / "rabbitmq/render-definitions.sh"
PROMETHEUS_CONFIG = COMPOSE_DIR / "prometheus/prometheus.yml"
INIT_DATABASES = COMPOSE_DIR / "postgres/init-databases.sh"
DASHBOARDS = Path("charts/platform/files/grafana/dashboards")

#: Every combination the stack is started with: the core alone, each profile, all of them.
PROFILES = ((), ("observability",), ("ops",), ("observability", "ops"))
BACKING = ("postgres", "rabbitmq", "redis")
WEB_PORT, WORKER_METRICS_PORT = 8000, 9100

#: Broker resources every Celery worker uses besides its queues: the events exchange, the
#: worker's heartbeat exchange and the remote-control (pidbox) exchanges.
CELERY_EXCHANGES = ("celeryev", "celery.pidbox", "reply.celery.pidbox")

#: Variable names whose value is a secret, and command-line options followed by one.
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|PASSPHRASE|ACCESS_KEY|PRIVATE_KEY|_DSN$|AUTH$"
)
SECRET_OPTION = re.compile(r"^--?(secret|password|passwd|pass|requirepass|token)$", re.I)
#: A value that is nothing but references (``${NAME}``, ``${NAME:?message}``, ``${NAME:-}``).
REFERENCE = r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:?-)?\}"
ONLY_REFERENCES = re.compile(rf"^(?:{REFERENCE})+$")
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]*)@", re.I)
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
#: Passwords go into URLs and the rendered definitions: these characters need no escaping.
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
#: Variables docker-compose itself reads from the env file.
COMPOSE_VARIABLES = re.compile(r"^(COMPOSE_[A-Z_]+|DOCKER_[A-Z_]+)$")


# -- docker-compose ------------------------------------------------------------------------------


def compose_config(root: Path, profiles: tuple[str, ...] = ()) -> tuple[dict | None, list[str]]:
    """``docker-compose config`` for these profiles, with the example env file only (the
    caller's environment must not fill in what the example lacks): the file as compose resolves
    it (anchors merged, variables filled in, paths made absolute), or the problem it reports."""
    program = shutil.which("docker-compose")
    if program is None:
        return None, ["docker-compose is not installed (make tools)"]
    command = [program, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE)]
    for profile in profiles:
        command += ["--profile", profile]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)}
    result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [*command, "config"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        which = "+".join(profiles) or "core"
        output = (result.stderr or result.stdout).strip()
        return None, [f"docker-compose config ({which} profile): {output}"]
    return yaml.safe_load(result.stdout), []


def depends_on(spec: dict) -> dict[str, str]:
    """A service's dependencies and their conditions (the list form means ``service_started``)."""
    value = spec.get("depends_on") or {}
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {
        name: (options or {}).get("condition", "service_started") for name, options in value.items()
    }


def one_shot(spec: dict) -> bool:
    """A container that runs to completion says so (``restart: "no"``); any other runs for good."""
    return str(spec.get("restart")) == "no"


def check_processes(services: dict) -> list[str]:
    """Each platform service's processes, their image, and what they wait for."""
    from service_kit.platform import SERVICES

    problems = []
    for service in SERVICES:
        roles = ("migrate", "web", "worker", "beat") if service.worker else ("migrate", "web")
        for role in roles:
            name = f"{service.name}-{role}"
            spec = services.get(name)
            if not isinstance(spec, dict):
                problems.append(f"service {name} is missing")
                continue
            build_arg = ((spec.get("build") or {}).get("args") or {}).get("SERVICE")
            if build_arg != service.folder:
                problems.append(f"{name} is built with SERVICE={build_arg}, not {service.folder}")
            if spec.get("command") != role:
                problems.append(f"{name} runs {spec.get('command')!r}, not {role!r}")
            if role == "migrate":
                if not one_shot(spec):
                    problems.append(f"{name} must be a one-shot (restart: 'no')")
                continue
            waits = depends_on(spec)
            migrate = f"{service.name}-migrate"
            if waits.get(migrate) != "service_completed_successfully":
                problems.append(
                    f"{name} must depend on {migrate} with condition service_completed_successfully"
                )
            for backing in BACKING:
                if waits.get(backing) != "service_healthy":
                    problems.append(
                        f"{name} must depend on {backing} with condition service_healthy"
                    )
    return problems


def check_dependencies(services: dict) -> list[str]:
    """Every dependency exists, is started with the dependent's profiles, and can meet its
    condition (healthy: a healthcheck; completed: a one-shot)."""
    problems = []
    for name, spec in services.items():
        profiles = set(spec.get("profiles") or ())
        for target, condition in depends_on(spec).items():
            other = services.get(target)
            if other is None:
                problems.append(f"{name} depends on {target}, which is not defined")
                continue
            needs = set(other.get("profiles") or ())
            if needs and not (profiles and profiles <= needs):
                problems.append(
                    f"{name} depends on {target}, which only runs with profile "
                    f"{'/'.join(sorted(needs))}"
                )
            if condition == "service_healthy" and "healthcheck" not in other:
                problems.append(f"{name} waits for {target} to be healthy: it has no healthcheck")
            if condition == "service_completed_successfully" and not one_shot(other):
                problems.append(f"{name} waits for {target} to complete: it is not a one-shot")
    return problems


def check_healthchecks(services: dict) -> list[str]:
    problems = []
    for name, spec in services.items():
        if one_shot(spec):
            continue
        check = spec.get("healthcheck")
        test = check.get("test") if isinstance(check, dict) else None
        if not test or check.get("disable") or test in (["NONE"], "NONE"):
            problems.append(f"{name} runs for good but has no healthcheck")
    return problems


def _mapping_keys(node: yaml.MappingNode) -> set[str]:
    """A mapping's keys, those it merges (``<<``) included."""
    keys = set()
    for key, value in node.value:
        if key.value != "<<":
            keys.add(key.value)
        else:
            for merged in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                if isinstance(merged, yaml.MappingNode):
                    keys |= _mapping_keys(merged)
    return keys


def check_merges(text: str) -> list[str]:
    """``<<: [*a, *b]`` with a key in both: the YAML libraries do not agree on which one wins
    (PyYAML 6.0.3, which docker-compose runs on, and 6.0.4 differ), so that key must be written
    in the mapping itself."""
    problems, seen = [], set()
    stack = [yaml.compose(text)]
    while stack:
        node = stack.pop()
        if id(node) in seen or not isinstance(node, yaml.CollectionNode):
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            own = {key.value for key, _ in node.value}
            for key, value in node.value:
                if key.value == "<<" and isinstance(value, yaml.SequenceNode):
                    sets = [
                        _mapping_keys(m) for m in value.value if isinstance(m, yaml.MappingNode)
                    ]
                    clash = set().union(*(a & b for a, b in itertools.combinations(sets, 2)))
                    if clash - own:
                        line = key.start_mark.line + 1
                        problems.append(
                            f"docker-compose.yml:{line}: {', '.join(sorted(clash - own))} "
                            "merged from more than one anchor: write it in the mapping itself"
                        )
            stack += [value for _, value in node.value]
        else:
            stack += node.value
    return problems


# -- secrets and the env file ----------------------------------------------------------------


def _environment(spec: dict) -> dict[str, str]:
    value = spec.get("environment") or {}
    if isinstance(value, list):
        value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _inline(value: str) -> bool:
    """Whether a secret's value is written here rather than referenced."""
    return bool(value) and not ONLY_REFERENCES.match(value)


def check_secrets(services: dict) -> list[str]:
    problems = []
    for name, spec in services.items():
        for variable, value in _environment(spec).items():
            if SECRET_NAME.search(variable) and _inline(value):
                problems.append(f"{name}: {variable} is written in the compose file")
        strings = list(_environment(spec).values())
        for key in ("command", "entrypoint"):
            value = spec.get(key)
            words = [value] if isinstance(value, str) else list(value or [])
            strings += [str(word) for word in words]
            for option, following in itertools.pairwise(words):
                if SECRET_OPTION.match(str(option)) and _inline(str(following)):
                    problems.append(f"{name}: the value of {option} is written in the compose file")
        for text in strings:
            for password in URL_PASSWORD.findall(text):
                if _inline(password):
                    problems.append(f"{name}: a URL carries a password written in the compose file")
    return problems


#: URL schemes of a mail transport (django-environ's SMTP schemes); the real profile refuses
#: the console, memory and dummy backends (service_kit.checks, E005).
MAIL_TRANSPORTS = ("smtp", "smtps", "smtp+tls", "smtp+ssl")


def check_mail(services: dict) -> list[str]:
    """auth_service sends password resets: each of its processes (the migration runs the system
    checks) has an SMTP ``EMAIL_URL``, and a mail server named in it is part of the stack."""
    problems = []
    for name, spec in services.items():
        if ((spec.get("build") or {}).get("args") or {}).get("SERVICE") != "auth_service":
            continue
        url = urlsplit(_environment(spec).get("EMAIL_URL", ""))
        if url.scheme not in MAIL_TRANSPORTS:
            problems.append(
                f"{name}: EMAIL_URL must name an SMTP transport ({', '.join(MAIL_TRANSPORTS)})"
            )
        elif "." not in (url.hostname or "") and url.hostname not in services:
            problems.append(f"{name}: EMAIL_URL names {url.hostname}, which is not a service")
    return problems


def read_env_file(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def check_env_example(compose_text: str, example: dict[str, str]) -> list[str]:
    problems = []
    code = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in compose_text.splitlines())
    referenced = set(VARIABLE.findall(code))
    for name in sorted(referenced - set(example)):
        problems.append(f".env.example does not define {name}, which the compose file uses")
    for name in sorted(set(example) - referenced):
        if not COMPOSE_VARIABLES.match(name):
            problems.append(f".env.example defines {name}, which the compose file never uses")
    for name, value in example.items():
        if name.endswith("_PASSWORD") and not URL_SAFE.match(value):
            problems.append(f".env.example: {name} must be letters, digits and . _ ~ - only")
    return problems


# -- mounts ------------------------------------------------------------------------------------


def check_mounts(root: Path, services: dict) -> list[str]:
    problems = []
    for name, spec in services.items():
        for source in bind_mounts(root, spec).values():
            if not source.exists():
                where = source.relative_to(root.resolve())
                problems.append(f"{name} mounts {where}, which is not in the repository")
    return problems


# -- PostgreSQL ---------------------------------------------------------------------------------


def check_databases(root: Path, services: dict, example: dict[str, str]) -> list[str]:
    """Each service connects as its own role to its own database, which the init script makes."""
    from service_kit.platform import SERVICES

    script = root / INIT_DATABASES
    if not script.is_file():
        return [f"{INIT_DATABASES} is missing"]
    loop = re.search(r"^for service in ([a-z_ ]+); do", script.read_text(), re.M)
    made = set(loop.group(1).split()) if loop else set()
    postgres = _environment(services.get("postgres") or {})
    problems = []
    for service in SERVICES:
        if service.name not in made:
            problems.append(f"{INIT_DATABASES} does not make the {service.name} database")
        variable = f"{service.name.upper()}_DB_PASSWORD"
        if variable not in postgres:
            problems.append(f"postgres lacks {variable} (its init script makes the role with it)")
        url = _environment(services.get(f"{service.name}-web") or {}).get("DATABASE_URL", "")
        password = example.get(variable, "")
        if url != f"postgres://{service.name}:{password}@postgres:5432/{service.name}":
            problems.append(
                f"{service.name}-web: DATABASE_URL must be postgres://{service.name}:"
                f"${{{variable}}}@postgres:5432/{service.name} (its own role and database)"
            )
    return problems


# -- RabbitMQ -----------------------------------------------------------------------------------


def settings_messaging(settings_file: Path) -> tuple[list[str], list[str]]:
    """``consumes`` and ``commands`` given to service_settings() in a service's settings.py."""
    found: dict[str, list[str]] = {"consumes": [], "commands": []}
    for node in ast.walk(ast.parse(settings_file.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "service_settings":
            for keyword in node.keywords:
                if keyword.arg in found:
                    found[keyword.arg] = list(ast.literal_eval(keyword.value))
    return found["consumes"], found["commands"]


def sent_commands(folder: Path) -> set[str]:
    """The commands a service's code sends (``send_command("inventory.reserve", …)``)."""
    sent = set()
    for path in folder.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "send_command"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                sent.add(node.args[0].value)
    return sent


def _matches(pattern: str, name: str) -> bool:
    """RabbitMQ's test: the regular expression found in the resource name (not anchored)."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def render_definitions(root: Path, example: dict[str, str]) -> str:
    """Renders the definitions as the rabbitmq service does before the broker starts (its own
    script, the example's passwords); the problem, or "" when the broker gets valid JSON."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "definitions.json"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **example}
        result = subprocess.run(  # noqa: S603 - sh runs the repository's own script
            ["sh", str(root / RENDER_DEFINITIONS), str(root / DEFINITIONS), str(output)],  # noqa: S607 - sh runs the repository's own script
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            return f"render-definitions.sh failed: {result.stderr.strip()}"
        text = output.read_text()
    if "${" in text:
        return "render-definitions.sh left a ${…} placeholder in the definitions"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the rendered definitions are not JSON: {exc}"
    return ""


@dataclass(frozen=True)
class MessageOwners:
    """Who may send one message type, as the kit's registry says (messaging.schemas)."""

    kind: str  # event or command
    owner: str  # the producing service (event) or the one that carries it out (command)
    senders: list[str]


def platform_message_types() -> dict[str, MessageOwners]:
    """The message types the kit registers and who may send them, read in a fresh interpreter:
    a process that has loaded a test project (the kit's own tests) holds its extra types too."""
    return {name: MessageOwners(*fields) for name, fields in json.loads(_registry_json()).items()}


@functools.cache
def _registry_json() -> str:
    """The kit's registry as JSON, read once a process: it is the installed kit's code, which
    no repository (nor copy of one) that a check reads changes."""
    code = (
        "import json; from service_kit.messaging.schemas import registry; "
        "print(json.dumps({n: [t.kind, t.owner, list(t.senders)] for n, t in registry.items()}))"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def platform_event_types() -> list[str]:
    return sorted(n for n, t in platform_message_types().items() if t.kind == "event")


@dataclass
class Messaging:
    """What one service does on the broker, read from its code."""

    worker: bool
    queues: list[str]  # its own: <name>.tasks, <name>.events, <name>.<verb>
    consumes: list[str]  # event types bound to <name>.events
    owns: list[str]  # event types it alone publishes (the registry's owner)
    sends: list[str]  # commands the registry lets it send
    sent: set[str]  # commands its code sends

    @property
    def command_keys(self) -> list[str]:
        """The routing keys it writes on domain_commands: its commands, its own retries (one
        per queue that takes messages from others) and its periodic tasks."""
        retries = [f"retry.{q}" for q in self.queues if not q.endswith(".tasks")]
        return [*self.sends, *retries, *(q for q in self.queues if q.endswith(".tasks"))]

    @property
    def command_bindings(self) -> list[str]:
        """The routing keys its queues are bound to on domain_commands."""
        own = [q for q in self.queues if not q.endswith(".events")]  # commands and tasks
        return [*own, *(f"retry.{q}" for q in self.queues if not q.endswith(".tasks"))]


def platform_messaging(root: Path, types: dict[str, MessageOwners]) -> dict[str, Messaging]:
    from service_kit.platform import SERVICES

    result = {}
    for service in SERVICES:
        name = service.name
        consumes, commands = settings_messaging(
            root / service.folder / service.folder / "settings.py"
        )
        queues = [f"{name}.tasks"] if service.worker else []
        queues += [f"{name}.events"] if consumes else []
        queues += [f"{name}.{verb}" for verb in commands]
        owns = sorted(n for n, t in types.items() if t.kind == "event" and t.owner == name)
        sends = sorted(n for n, t in types.items() if t.kind == "command" and name in t.senders)
        sent = sent_commands(root / service.folder)
        result[name] = Messaging(service.worker, queues, consumes, owns, sends, sent)
    return result


def check_grant(name: str, grant: dict, platform: dict[str, Messaging]) -> Iterator[str]:
    """A service's configure/write/read permissions: everything its processes do (see the
    kit's messaging app and outbox), and none of the other services' queues."""
    mine = platform[name]
    needs = {
        "configure": [*mine.queues],
        "write": [*mine.queues],
        "read": [*mine.queues],
    }
    exchanges = ["domain_events", "domain_commands"]
    if mine.worker:
        pidbox = f"{name}@0f3c2a1b9d8e.celery.pidbox"  # <worker name>@<container hostname>
        needs["configure"] += [*exchanges, *CELERY_EXCHANGES, pidbox]
        needs["write"] += [*exchanges, "celeryev", "reply.celery.pidbox", pidbox]
        needs["read"] += [*exchanges, "celery.pidbox", pidbox]
    else:
        for resource in exchanges:
            if _matches(grant.get("write", ""), resource):
                yield f"definitions: {name} runs no worker but may write {resource}"
    # The default exchange reaches every queue by its name, past every topic permission.
    if _matches(grant.get("write", ""), "amq.default"):
        yield f"definitions: {name} may write amq.default (any queue by its name)"
    for action, resources in needs.items():
        pattern = grant.get(action, "")
        for resource in resources:
            if not _matches(pattern, resource):
                yield f"definitions: {name} cannot {action} {resource}"
        for other, theirs in platform.items():
            for queue in theirs.queues:
                if other != name and _matches(pattern, queue):
                    yield f"definitions: {name} may {action} {other}'s queue {queue}"


def check_topics(
    name: str, topics: dict[str, dict], platform: dict[str, Messaging], events: list[str]
) -> Iterator[str]:
    """Topic permissions. On domain_events: publish exactly the owned types, bind exactly the
    consumed ones. On domain_commands: write exactly the commands the registry lets it send and
    its own retry and task keys; bind exactly its own queues' keys."""
    mine = platform[name]
    yield from _topic_problems(
        name, "publish", topics["domain_events"], events, mine.owns, mine.consumes
    )
    keys = {k for theirs in platform.values() for k in theirs.command_keys}
    keys |= {k for theirs in platform.values() for k in theirs.command_bindings}
    yield from _topic_problems(
        name,
        "send",
        topics["domain_commands"],
        sorted(keys),
        mine.command_keys,
        mine.command_bindings,
    )
    for command in sorted(mine.sent - set(mine.sends)):
        yield f"{name} sends {command}, which the kit's registry does not let it send"


def _topic_problems(
    name: str, verb: str, topic: dict, keys: list[str], writes: list[str], binds: list[str]
) -> Iterator[str]:
    """For each routing key: the topic permission lets ``name`` write it exactly when it is one
    of ``writes`` (``verb``: publish, send), and bind it exactly when it is one of ``binds``."""
    for key in keys:
        may_write = _matches(topic.get("write", ""), key)
        if may_write != (key in writes):
            yield f"definitions: {name} {'may' if may_write else 'cannot'} {verb} {key}"
        may_bind = _matches(topic.get("read", ""), key)
        if may_bind != (key in binds):
            yield f"definitions: {name} {'may' if may_bind else 'cannot'} bind {key}"


def check_declared(definitions: dict, platform: dict[str, Messaging]) -> Iterator[str]:
    """The queues and their bindings come with the definitions, so an event published before
    its consumer's first start waits in its queue instead of being dropped."""
    declared = {q.get("name"): q for q in definitions.get("queues", [])}
    bindings = {
        (b.get("source"), b.get("destination"), b.get("routing_key"))
        for b in definitions.get("bindings", [])
    }
    for name, mine in platform.items():
        for queue in mine.queues:
            if not (declared.get(queue) or {}).get("durable"):
                yield f"definitions: durable queue {queue} is not declared"
        bound = {k for s, d, k in bindings if s == "domain_events" and d == f"{name}.events"}
        for event in sorted(set(mine.consumes) ^ bound):
            state = "not bound" if event in mine.consumes else "bound but not consumed"
            yield f"definitions: {event} is {state} on {name}.events"
        for key in mine.command_bindings:
            queue = key.removeprefix("retry.")
            if ("domain_commands", queue, key) not in bindings:
                yield f"definitions: {key} is not bound to {queue} on domain_commands"


def _entries(definitions: dict, key: str, user: str, vhost: str) -> list[dict]:
    return [
        e for e in definitions.get(key, []) if e.get("user") == user and e.get("vhost") == vhost
    ]


def check_definitions(root: Path, services: dict, example: dict[str, str]) -> list[str]:
    path = root / DEFINITIONS
    try:
        definitions = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{DEFINITIONS}: {exc}"]
    problems = []
    if not (root / RENDER_DEFINITIONS).is_file():
        problems.append(f"{RENDER_DEFINITIONS} is missing")
    elif error := render_definitions(root, example):
        problems.append(error)
    types = platform_message_types()
    events = sorted(n for n, t in types.items() if t.kind == "event")
    platform = platform_messaging(root, types)
    problems += [
        f"{n} is owned by {t.owner}, not a service of the platform"
        for n, t in types.items()
        if t.owner not in platform
    ]
    chart = root / CHART_DEFINITIONS
    if not chart.is_file() or chart.read_text() != path.read_text():
        problems.append(f"{CHART_DEFINITIONS} is not the same as {DEFINITIONS}")
    for name in platform:
        url = _environment(services.get(f"{name}-web") or {}).get("CELERY_BROKER_URL", "")
        problems += _service_permissions(definitions, name, url, platform, events)
    problems += check_declared(definitions, platform)
    users = [user.get("name") for user in definitions.get("users", [])]
    if "flower" in services and users.count("flower") != 1:
        problems.append("definitions: Flower needs its own user, flower")
    return problems


def _service_permissions(
    definitions: dict, name: str, url: str, platform: dict[str, Messaging], events: list[str]
) -> list[str]:
    """A service's broker user (the one its broker URL names), its vhost, its permissions and,
    for a service with a worker, its topic permissions on both exchanges."""
    match = re.match(r"amqp://([^:]+):[^@]*@rabbitmq:5672/(.+)$", url)
    if not match or match.group(1) != name:
        return [f"{name}-web must connect to RabbitMQ as its own user, {name}"]
    vhost = match.group(2)
    users = [user.get("name") for user in definitions.get("users", [])]
    grants = _entries(definitions, "permissions", name, vhost)
    if users.count(name) != 1:
        return [f"definitions: {users.count(name)} users named {name}, not one"]
    if vhost not in {vhost.get("name") for vhost in definitions.get("vhosts", [])}:
        return [f"definitions: no vhost {vhost} (the broker URLs use it)"]
    if len(grants) != 1:
        return [f"definitions: {name} needs one permissions entry on {vhost}"]
    problems = list(check_grant(name, grants[0], platform))
    if not platform[name].worker:
        return problems
    topics = {
        exchange: [
            t
            for t in _entries(definitions, "topic_permissions", name, vhost)
            if t.get("exchange") == exchange
        ]
        for exchange in ("domain_events", "domain_commands")
    }
    missing = [exchange for exchange, entries in topics.items() if len(entries) != 1]
    problems += [
        f"definitions: {name} needs topic permissions on {exchange}" for exchange in missing
    ]
    if not missing:
        problems += check_topics(
            name, {exchange: entries[0] for exchange, entries in topics.items()}, platform, events
        )
    return problems


# -- Prometheus and Grafana --------------------------------------------------------------------


def _load_yaml(path: Path) -> tuple[object, str]:
    try:
        return yaml.safe_load(path.read_text()), ""
    except (OSError, yaml.YAMLError) as exc:
        return None, f"{path.name}: {exc}"


def check_prometheus(root: Path, services: dict) -> list[str]:
    spec = services.get("prometheus")
    if not isinstance(spec, dict):
        return ["service prometheus is missing"]
    config, error = _load_yaml(root / PROMETHEUS_CONFIG)
    if error or not isinstance(config, dict):
        return [error or f"{PROMETHEUS_CONFIG} is not a mapping"]
    mounts = bind_mounts(root, spec)
    config_file = (root / PROMETHEUS_CONFIG).resolve()
    config_target = next((t for t, s in mounts.items() if s == config_file), None)
    if config_target is None:
        return [f"prometheus does not mount {PROMETHEUS_CONFIG}"]
    return (
        _promtool(root, config, config_target, mounts)
        + _scrape_problems(config, services)
        + _exemplar_problems(config, spec)
    )


def _exemplar_problems(config: dict, spec: dict) -> list[str]:
    """Exemplars kept (a feature flag) and scraped: OpenMetrics first wherever the scrape
    protocols are set (their default asks for it first)."""
    command = spec.get("command") or []
    flags = [
        str(arg).split("=", 1)[1] for arg in command if str(arg).startswith("--enable-feature=")
    ]
    problems = []
    if "exemplar-storage" not in ",".join(flags).split(","):
        problems.append("prometheus runs without --enable-feature=exemplar-storage")
    for place in [config.get("global") or {}, *(config.get("scrape_configs") or ())]:
        protocols = place.get("scrape_protocols")
        if protocols and not str(protocols[0]).startswith("OpenMetricsText"):
            problems.append(
                f"prometheus.yml: scrape_protocols {protocols} do not ask for OpenMetrics first"
            )
    return problems


def _scrape_problems(config: dict, services: dict) -> list[str]:
    """Every web and worker: scraped on its port, labelled with its service and component."""
    labels = {
        target: group.get("labels") or {}
        for job in config.get("scrape_configs") or ()
        for group in job.get("static_configs") or ()
        for target in group.get("targets") or ()
    }
    problems = []
    for name in services:
        service, _, role = name.rpartition("-")
        if role not in ("web", "worker"):
            continue
        target = f"{name}:{WEB_PORT if role == 'web' else WORKER_METRICS_PORT}"
        if target not in labels:
            problems.append(f"prometheus.yml does not scrape {target}")
        elif labels[target].get("service") != service or labels[target].get("component") != role:
            problems.append(
                f"prometheus.yml: {target} must carry service={service}, component={role}"
            )
    return problems


def _promtool(root: Path, config: dict, config_target: str, mounts: dict[str, Path]) -> list[str]:
    """``promtool check config`` on a copy laid out as in the container: the rule files at the
    paths compose mounts them, relative to the config file as Prometheus reads them."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return ["promtool is not installed (make tools)"]
    problems = []
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        shutil.copy(root / PROMETHEUS_CONFIG, base / "prometheus.yml")
        config_dir = PurePosixPath(config_target).parent
        for rule_file in config.get("rule_files") or ():
            target = str(config_dir / rule_file)
            source = mounts.get(target)
            if source is None:
                problems.append(f"prometheus reads {target}, which compose does not mount")
                continue
            if not source.is_file():
                continue  # reported by check_mounts
            copy = base / rule_file
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, copy)
        result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
            [promtool, "check", "config", str(base / "prometheus.yml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().replace(str(base) + "/", "")
            problems.append(f"promtool check config: {output}")
    return problems


def _yaml_items(folder: Path, key: str) -> tuple[list[dict], list[str]]:
    """The entries under ``key`` of every YAML file in a Grafana provisioning folder."""
    items, problems = [], []
    for path in sorted(folder.glob("*.y*ml")):
        data, error = _load_yaml(path)
        if error:
            problems.append(error)
        elif isinstance(data, dict):
            items += [item for item in data.get(key) or () if isinstance(item, dict)]
    return items, problems


def _trace_links(sources: list[dict]) -> list[str]:
    """A Jaeger datasource, and every Prometheus datasource's exemplars (their ``trace_id``
    label) linked to it: a latency panel jumps from a slow bucket to its trace."""
    jaeger = {s.get("uid") for s in sources if s.get("type") == "jaeger"}
    if not any(
        s.get("type") == "jaeger" and s.get("url") == "http://jaeger:16686" for s in sources
    ):
        return ["grafana needs a jaeger datasource at http://jaeger:16686"]
    problems = []
    for source in sources:
        if source.get("type") != "prometheus":
            continue
        links = (source.get("jsonData") or {}).get("exemplarTraceIdDestinations") or []
        if not any(
            link.get("name") == "trace_id" and link.get("datasourceUid") in jaeger for link in links
        ):
            problems.append(
                f"grafana: datasource {source.get('name')}: exemplars (trace_id) must link to "
                "the jaeger datasource (exemplarTraceIdDestinations)"
            )
    return problems


def check_grafana(root: Path, services: dict) -> list[str]:
    spec = services.get("grafana")
    if not isinstance(spec, dict):
        return ["service grafana is missing"]
    mounts = bind_mounts(root, spec)
    folder = mounts.get("/etc/grafana/provisioning")
    if folder is None:
        return ["grafana does not mount its provisioning folder at /etc/grafana/provisioning"]
    sources, problems = _yaml_items(folder / "datasources", "datasources")
    if not any(
        s.get("type") == "prometheus" and s.get("url") == "http://prometheus:9090" for s in sources
    ):
        problems.append("grafana needs a prometheus datasource at http://prometheus:9090")
    problems += _trace_links(sources)
    providers, errors = _yaml_items(folder / "dashboards", "providers")
    problems += errors
    dashboards = (root / DASHBOARDS).resolve()
    paths = [(provider.get("options") or {}).get("path") for provider in providers]
    if not any(mounts.get(path) == dashboards for path in paths):
        problems.append(f"no dashboards provider reads where compose mounts {DASHBOARDS}")
    return problems


# -- all of it ----------------------------------------------------------------------------------


def check(root: Path = REPO_ROOT) -> list[str]:
    root = Path(root)
    compose_file = root / COMPOSE_FILE
    if not compose_file.is_file():
        return [f"{COMPOSE_FILE} is missing"]
    if not (root / ENV_EXAMPLE).is_file():
        return [f"{ENV_EXAMPLE} is missing"]
    # docker-compose once per profile combination, side by side (each run is a slow start).
    with ThreadPoolExecutor(max_workers=len(PROFILES)) as pool:
        runs = list(pool.map(lambda profiles: compose_config(root, profiles), PROFILES))
    problems = [problem for _resolved, errors in runs for problem in errors]
    resolved = runs[-1][0]  # the last combination has every service
    # What is written in the file, as it is written: secrets and the variables it uses.
    example = read_env_file((root / ENV_EXAMPLE).read_text())
    problems += check_env_example(compose_file.read_text(), example)
    raw, error = _load_yaml(compose_file)
    if error:
        problems.append(error)
    elif isinstance(raw, dict):
        problems += check_merges(compose_file.read_text())
        problems += check_secrets(raw.get("services") or {})
    if not isinstance(resolved, dict):
        return problems  # the rest needs the file as docker-compose reads it
    # The stack as docker-compose reads it (anchors merged, variables filled in).
    services = resolved.get("services") or {}
    problems += check_processes(services)
    problems += check_dependencies(services)
    problems += check_healthchecks(services)
    problems += check_mounts(root, services)
    problems += check_databases(root, services, example)
    problems += check_mail(services)
    problems += check_definitions(root, services, example)
    problems += check_prometheus(root, services)
    problems += check_grafana(root, services)
    problems += telemetry.check(root, services)
    return problems
