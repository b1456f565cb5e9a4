"""Real backing services for tests, each run isolated on them.

A run gets its own PostgreSQL database names (``t_<run>_<name>``), its own RabbitMQ vhost
(``t_<run>``, where each service connects as its own broker user with the production
permissions) and its own Redis key prefix, so runs never see each other's data. A test that needs
a service skips when it is unreachable, unless ``REQUIRE_SERVICES`` is set (CI): then it fails.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from urllib.parse import urlsplit

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: The broker's management API, for a broker with no ``rabbitmqctl`` beside the tests (a service
#: container in CI): ``http://guest:guest@rabbitmq:15672``. Unset: ``rabbitmqctl``.
RABBITMQ_API_URL = os.environ.get("TEST_RABBITMQ_API_URL", "")
URLS = {"postgres": POSTGRES_URL, "rabbitmq": RABBITMQ_URL, "redis": REDIS_URL}

#: One id per test run, shared by the processes it starts (set once, inherited by children).
RUN_ID = os.environ.setdefault("PLATFORM_TEST_RUN", uuid.uuid4().hex[:8])


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").lower() not in ("", "0", "false", "no")


def ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


#: What ``TEST_DATABASE`` may say: the real profile's backing services, or the embedded profile.
TEST_DATABASES = ("postgres", "sqlite")


def test_database() -> str:
    """The database in-process tests run on, chosen, never guessed from what is listening:
    PostgreSQL under CI and ``REQUIRE_SERVICES``; otherwise ``TEST_DATABASE`` (``postgres``, the
    default, or ``sqlite``). With PostgreSQL the cache is the real Redis too (the real profile's
    backing services); with SQLite a file cache (the embedded profile)."""
    chosen = os.environ.get("TEST_DATABASE", "").strip().lower() or "postgres"
    if chosen not in TEST_DATABASES:
        raise ValueError(f"TEST_DATABASE={chosen!r}: expected one of {', '.join(TEST_DATABASES)}")
    if (ci() or required()) and chosen != "postgres":
        raise ValueError("TEST_DATABASE=sqlite under CI or REQUIRE_SERVICES: CI tests PostgreSQL")
    return chosen


def reachable(name: str, timeout: float = 0.5) -> bool:
    url = urlsplit(URLS[name])
    try:
        with socket.create_connection((url.hostname, url.port), timeout=timeout):
            return True
    except OSError:
        return False


def skip_unless(condition: bool, reason: str) -> None:
    """Skip a test that needs the real profile (PostgreSQL, Redis) when it is not what this run
    has; with REQUIRE_SERVICES (CI) that is a failure, never a silent skip."""
    if not condition:
        _refuse(reason)


def require(*names: str) -> None:
    """Skip (or, with REQUIRE_SERVICES, fail) unless every named service answers."""
    missing = [name for name in names if not reachable(name)]
    if missing:
        _refuse(f"backing service(s) unreachable: {', '.join(missing)}")


def _refuse(reason: str) -> None:
    import pytest  # here, not above: make image-check uses this module without pytest

    if required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES is set)", pytrace=False)
    pytest.skip(reason)


def database_name(name: str) -> str:
    return f"t_{RUN_ID}_{name}".lower()


def database_url(name: str) -> str:
    return f"{POSTGRES_URL}/{database_name(name)}"


def _admin_connection():
    import psycopg

    return psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True, connect_timeout=3)


def create_database(name: str) -> str:
    from psycopg import sql

    db = database_name(name)
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    return database_url(name)


def drop_database(name: str) -> None:
    from psycopg import sql

    db = database_name(name)
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def is_empty_database(url: str) -> bool:
    """Whether the database at ``url`` has no table of its own yet (as made, never migrated)."""
    import psycopg

    query = (
        "SELECT count(*) FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    )
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(query).fetchone()[0] == 0


def copy_database(source: str, target: str) -> None:
    """Database ``target`` (a full name) made anew as a copy of database ``source`` (PostgreSQL's
    ``CREATE DATABASE … TEMPLATE``: nothing may be connected to ``source`` meanwhile)."""
    from psycopg import sql

    with _admin_connection() as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(target)))
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        conn.execute(create.format(sql.Identifier(target), sql.Identifier(source)))


#: Copies of migrated databases this process keeps (full names), dropped when it exits.
_templates: list[str] = []
_templates_lock = threading.Lock()


def keep_as_template(source: str) -> str:
    """A copy of database ``source`` (a full name) that this process keeps until it exits: what
    later databases are copied from (:func:`copy_database`). Its name: ``t_<run>_tpl<n>``."""
    with _templates_lock:
        if not _templates:
            atexit.register(_drop_templates)
        name = database_name(f"tpl{os.getpid()}_{len(_templates)}")
        _templates.append(name)
    copy_database(source, name)
    return name


def _drop_templates() -> None:
    from psycopg import sql

    with contextlib.suppress(Exception), _admin_connection() as conn:
        for name in _templates:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
    _templates.clear()


def vhost_name(suffix: str = "") -> str:
    """This run's vhost (``suffix``: a second platform's beside the run's own)."""
    return f"t_{RUN_ID}{suffix}"


def _rabbitmqctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    result = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [ctl, *args], check=True, capture_output=True, text=True, timeout=60
    )
    return result.stdout


def _rabbitmq_api(method: str, path: str, body: dict | list | None = None):
    import requests

    url = urlsplit(RABBITMQ_API_URL)
    response = requests.request(
        method,
        f"{url.scheme}://{url.hostname}:{url.port or 15672}/api{path}",
        json=body,
        auth=(url.username or "guest", url.password or "guest"),
        timeout=30,
    )
    response.raise_for_status()
    return response.json() if response.content else None


def queue_depths(vhost: str, rabbitmqctl=None) -> dict[str, int]:
    """Each queue of ``vhost`` on the broker: its messages ready plus those delivered and not yet
    acknowledged. 0 for a queue means the broker holds nothing more for it: every message routed
    there has been consumed and acknowledged (a consumer acks after its handler's transaction).
    ``rabbitmqctl``: a private node's (RabbitMQNode.ctl); the shared broker's otherwise, or its
    management API (whose counts lag by its statistics interval, a few seconds at most)."""
    if RABBITMQ_API_URL and rabbitmqctl is None:
        from urllib.parse import quote

        columns = "name,messages_ready,messages_unacknowledged"
        queues = _rabbitmq_api("GET", f"/queues/{quote(vhost, safe='')}?columns={columns}")
        return {
            q["name"]: q.get("messages_ready", 0) + q.get("messages_unacknowledged", 0)
            for q in queues
        }
    listing = (rabbitmqctl or _rabbitmqctl)(
        "list_queues", "-p", vhost, "--quiet", "--no-table-headers",
        "name", "messages_ready", "messages_unacknowledged",
    )  # fmt: skip
    depths = {}
    for line in listing.splitlines():
        name, ready, unacked = line.split("\t")
        depths[name] = int(ready) + int(unacked)
    return depths


_vhosts_created: set[str] = set()


def create_vhost(suffix: str = "") -> str:
    """This run's vhost on the shared broker, with the broker URL's user allowed in it (made
    once per run; :func:`delete_vhost` removes it when the run ends)."""
    vhost = vhost_name(suffix)
    if vhost not in _vhosts_created:
        user = urlsplit(RABBITMQ_URL).username or "guest"
        if RABBITMQ_API_URL:
            _rabbitmq_api("PUT", f"/vhosts/{vhost}")
            everything = {"configure": ".*", "write": ".*", "read": ".*"}
            _rabbitmq_api("PUT", f"/permissions/{vhost}/{user}", everything)
        else:
            _rabbitmqctl("add_vhost", vhost)
            _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        _vhosts_created.add(vhost)
    return f"{RABBITMQ_URL}/{vhost}"


def delete_vhost(suffix: str = "") -> None:
    vhost = vhost_name(suffix)
    if vhost in _vhosts_created:
        if RABBITMQ_API_URL:
            _rabbitmq_api("DELETE", f"/vhosts/{vhost}")
        else:
            _rabbitmqctl("delete_vhost", vhost)
        _vhosts_created.discard(vhost)
        # its permissions went with it: a vhost made again under this name gives them anew
        _broker_users.difference_update({key for key in _broker_users if key[1] == vhost})


#: Users already given their permissions (by this process): (broker address, vhost, user).
_broker_users: set[tuple[str, str, str]] = set()


def broker_password(user: str) -> str:
    return f"test-broker-{user}"


def service_broker_url(service: str, url: str, rabbitmqctl=None) -> str:
    """``url`` (this run's vhost, as the admin user) as ``service``'s own broker user. The user
    gets the permissions the production definitions give it (compose/rabbitmq/definitions.json,
    which also declare the platform's queues, as in production); a service they do not name (the
    kit's test project) gets every permission in the vhost, and still its own name, which is what
    consumers check (service_kit.messaging.consumer). Users are the services' own names, as in
    production: the broker keeps users across vhosts, so every run gives them the same password
    and never deletes them (deleting the vhost takes their permissions). ``rabbitmqctl``: how to
    run it for another broker than the shared one (a node of the test's own: its ``ctl``)."""
    parts = urlsplit(url)
    if parts.username != (urlsplit(RABBITMQ_URL).username or "guest"):
        return url  # a URL with a user of its own is the test's choice
    vhost = parts.path.lstrip("/")
    if rabbitmqctl is None and vhost != vhost_name() and vhost not in _vhosts_created:
        return url  # not a vhost of this run on the shared broker (a test's dead port, say)
    broker = f"{parts.hostname}:{parts.port or 5672}"
    if (broker, vhost, service) not in _broker_users:
        first = not any(b == broker and v == vhost for b, v, _ in _broker_users)
        _import_definitions(_service_definitions(service, vhost, first), rabbitmqctl)
        _broker_users.add((broker, vhost, service))
    netloc = f"{service}:{broker_password(service)}@{parts.hostname}:{parts.port or 5672}"
    return parts._replace(netloc=netloc).geturl()


def _service_definitions(service: str, vhost: str, first: bool) -> dict:
    from service_kit.conf import REPO_ROOT

    production = json.loads((REPO_ROOT / "compose/rabbitmq/definitions.json").read_text())
    mine = {
        key: [dict(entry, vhost=vhost) for entry in production[key] if entry["user"] == service]
        for key in ("permissions", "topic_permissions")
    }
    if not mine["permissions"]:
        mine["permissions"] = [
            {"user": service, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
        ]
    platform = {"queues": [], "exchanges": [], "bindings": []}
    if first:  # the vhost's first user: its queues, as the production definitions declare them
        platform = {
            key: [dict(entry, vhost=vhost) for entry in production[key]] for key in platform
        }
    user = {"name": service, "password": broker_password(service), "tags": []}
    return {"users": [user], **mine, **platform}


def _import_definitions(definitions: dict, rabbitmqctl=None) -> None:
    if RABBITMQ_API_URL and rabbitmqctl is None:
        _rabbitmq_api("POST", "/definitions", definitions)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(definitions, file)
        file.flush()
        os.chmod(file.name, 0o644)  # rabbitmqctl's node reads it
        (rabbitmqctl or _rabbitmqctl)("import_definitions", file.name)


def cache_prefix(suffix: str = "") -> str:
    return f"t_{RUN_ID}{suffix}"


def flush_cache_prefix(suffix: str = "") -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{cache_prefix(suffix)}:*", count=1000))
    if keys:
        client.delete(*keys)
