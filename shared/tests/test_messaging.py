"""Messaging on real processes: the outbox, fan-out, the inbox, dead letters, a broker outage.

One publisher (``notes``) and three consumers of the kit's test project run as real web and
worker processes: ``alpha`` and ``beta`` bound to ``note.created``, ``gamma`` bound only to
``note.archived``. The publisher reaches RabbitMQ through a proxy the tests can cut.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from kit import kit_env, kit_service
from kombu import Connection
from kombu.transport.virtual import Empty

from platform_tools.testing import backing
from platform_tools.testing.client import post_json
from platform_tools.testing.faults import TcpProxy
from platform_tools.testing.processes import Harness, wait_for
from service_kit.messaging import transport
from service_kit.messaging.app import DOMAIN_EVENTS

PUBLISHER, ALPHA, BETA, GAMMA = (kit_service(n) for n in ("notes", "alpha", "beta", "gamma"))


def via_proxy(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    broker = backing.create_vhost()
    amqp = urlsplit(backing.RABBITMQ_URL)
    proxy = TcpProxy(amqp.hostname, amqp.port).start()
    harness = Harness(tmp_path_factory.mktemp("messaging"), profile="real", broker_url=broker)
    try:
        publisher_env = kit_env("notes", "", CELERY_BROKER_URL=via_proxy(broker, proxy.port))
        web = harness.start_web(PUBLISHER, **publisher_env)
        harness.start_worker(PUBLISHER, **publisher_env)
        workers = {}
        for service, consumes in (
            (ALPHA, "note.created"),
            (BETA, "note.created"),
            (GAMMA, "note.archived"),
        ):
            harness.migrate(service, **kit_env(service.name, consumes))
            workers[service.name] = harness.start_worker(
                service, beat=False, **kit_env(service.name, consumes)
            )
        yield {
            "harness": harness,
            "web": web,
            "proxy": proxy,
            "broker": broker,
            "workers": workers,
            "publisher": harness.broker_url_for(PUBLISHER),  # as the owner of note.created
        }
    finally:
        harness.cleanup()
        proxy.cut()


def producer(broker: str) -> Celery:
    app = Celery("test-producer", broker=broker)
    app.conf.broker_transport_options = {"confirm_publish": True}
    return app


def envelope(data: dict, **overrides) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "note.created",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "producer": "notes",
        "request_id": None,
        "data": data,
        **overrides,
    }


def publish_raw(broker: str, message: dict) -> None:
    """As the publisher's own broker user (the kit's publishers set ``user_id`` to it)."""
    producer(broker).send_task(
        "events.note.created",
        args=[message],
        task_id=message["id"],
        exchange=DOMAIN_EVENTS,
        routing_key="note.created",
        declare=[DOMAIN_EVENTS],
        user_id=urlsplit(broker).username,
    )


def seen_count(harness, service, note_id: str) -> int:
    return harness.query(
        service, "SELECT count(*) FROM notes_noteseen WHERE note_id = ?", (note_id,)
    )[0][0]


def test_committed_event_reaches_every_bound_queue_once_and_rolled_back_never(platform):
    harness, web = platform["harness"], platform["web"]

    status, _, body = post_json(f"{web.url}/api/v1/notes/", {"text": "rollback"})
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, _, note = post_json(f"{web.url}/api/v1/notes/", {"text": "hello"})
    assert status == 201

    for consumer in (ALPHA, BETA):
        wait_for(
            lambda c=consumer: seen_count(harness, c, note["id"]) == 1,
            what=f"{consumer.name} to apply note.created",
        )
    # Nothing more arrives: the broker has handed out and had acknowledged all it holds.
    harness.wait_drained("alpha.events", "beta.events", "gamma.events")
    for consumer in (ALPHA, BETA):
        assert harness.query(consumer, "SELECT note_id::text FROM notes_noteseen") == [
            (note["id"],)
        ]
    assert harness.query(GAMMA, "SELECT count(*) FROM notes_noteseen") == [(0,)]
    outbox = harness.query(
        PUBLISHER,
        "SELECT envelope->'data'->>'note_id', published_at "
        "IS NOT NULL FROM service_kit_outboxmessage",
    )
    assert outbox == [(note["id"], True)]  # the rolled-back event was never even stored
    with Connection(platform["broker"]) as conn:
        _, depth, consumers = conn.default_channel.queue_declare("gamma.events", passive=True)
        assert depth == 0 and consumers == 1


def test_message_delivered_twice_is_applied_once(platform):
    harness, broker = platform["harness"], platform["publisher"]
    note_id = str(uuid.uuid4())
    message = envelope({"note_id": note_id, "text": "twice"})
    publish_raw(broker, message)
    publish_raw(broker, message)

    alpha_log = platform["workers"]["alpha"]
    wait_for(
        lambda: alpha_log.log.read_text().count(message["id"]) >= 2,
        what="alpha to receive both deliveries",
    )
    wait_for(lambda: "message.duplicate" in alpha_log.log.read_text(), what="duplicate logged")
    for consumer in (ALPHA, BETA):
        wait_for(lambda c=consumer: seen_count(harness, c, note_id) == 1, what="applied")
    harness.wait_drained("alpha.events", "beta.events")  # both copies consumed and acknowledged
    assert seen_count(harness, ALPHA, note_id) == 1
    assert seen_count(harness, BETA, note_id) == 1
    processed = harness.query(
        ALPHA,
        "SELECT count(*) FROM service_kit_processedmessage WHERE message_id = ?",
        (message["id"],),
    )
    assert processed == [(1,)]


def test_broker_unreachable_request_succeeds_and_sweep_publishes_later(platform):
    harness, web, proxy = platform["harness"], platform["web"], platform["proxy"]
    proxy.cut()
    try:
        started = time.perf_counter()
        status, _, note = post_json(f"{web.url}/api/v1/notes/", {"text": "during outage"})
        elapsed = time.perf_counter() - started
        assert status == 201
        assert elapsed < 1.0, f"the request waited for the broker ({elapsed:.2f}s)"
        wait_for(
            lambda: (
                harness.query(
                    PUBLISHER,
                    "SELECT attempts FROM "
                    "service_kit_outboxmessage WHERE envelope->'data'->>'note_id' = ?",
                    (note["id"],),
                )[0][0]
                >= 1
            ),
            what="a failed relay attempt",
        )
        harness.wait_drained("alpha.events", "beta.events")  # nothing on its way either
        assert seen_count(harness, ALPHA, note["id"]) == 0
        pending = harness.query(
            PUBLISHER,
            "SELECT published_at FROM service_kit_outboxmessage "
            "WHERE envelope->'data'->>'note_id' = ?",
            (note["id"],),
        )
        assert pending == [(None,)]
    finally:
        proxy.restore()

    for consumer in (ALPHA, BETA):
        wait_for(
            lambda c=consumer: seen_count(harness, c, note["id"]) == 1,
            timeout=60,
            what=f"{consumer.name} to get the swept event",
        )
    harness.wait_drained("alpha.events", "beta.events")  # no second copy after the sweep
    assert seen_count(harness, ALPHA, note["id"]) == 1
    assert seen_count(harness, BETA, note["id"]) == 1


def test_failing_handler_ends_in_dead_letters_and_replays(platform):
    harness, web = platform["harness"], platform["web"]
    harness.execute(ALPHA, "INSERT INTO notes_switch (name, \"on\") VALUES ('fail', true)")
    try:
        status, _, note = post_json(f"{web.url}/api/v1/notes/", {"text": "poison for alpha"})
        assert status == 201
        letters = wait_for(
            lambda: harness.query(
                ALPHA,
                "SELECT id, reason, attempts, queue FROM service_kit_deadletter "
                "WHERE envelope->'data'->>'note_id' = ?",
                (note["id"],),
            ),
            what="a dead letter in alpha",
        )
        assert [row[1:] for row in letters] == [("failed", 4, "alpha.events")]
        assert seen_count(harness, ALPHA, note["id"]) == 0  # the failed attempts left nothing
        # alpha's retries stayed on alpha's queue: beta applied it once and saw no duplicate.
        assert seen_count(harness, BETA, note["id"]) == 1
        beta_log = platform["workers"]["beta"].log.read_text()
        message_id = _message_id(harness, note["id"])
        # Each delivery ends in one line of Celery's: "succeeded" (applied, a duplicate, or a
        # dead letter) or "retry".
        handled = re.compile(
            rf'"message":"Task events\.note\.created\[{message_id}\] (succeeded in|retry:)'
        )
        assert handled.findall(beta_log) == ["succeeded in"]
        alpha_log = platform["workers"]["alpha"].log.read_text()
        # the first delivery and three retries, then the dead letter
        assert handled.findall(alpha_log) == ["retry:"] * 3 + ["succeeded in"]
        routes = [
            json.loads(line)["delivered_via"]
            for line in alpha_log.splitlines()
            if '"message.retry"' in line and message_id in line
        ]
        # first through the exchange; every retry onto alpha's own events queue only, by its
        # retry key on the commands exchange (which only alpha may write)
        assert routes == [
            "domain_events/note.created",
            "domain_commands/retry.alpha.events",
            "domain_commands/retry.alpha.events",
        ]
    finally:
        harness.execute(ALPHA, "DELETE FROM notes_switch")

    result = harness_manage(harness, ALPHA, "replay_dead_letters", "--all")
    assert "replayed 1" in result
    wait_for(lambda: seen_count(harness, ALPHA, note["id"]) == 1, what="the replay applied")
    replayed = harness.query(
        ALPHA,
        "SELECT replay_count FROM service_kit_deadletter WHERE envelope->'data'->>'note_id' = ?",
        (note["id"],),
    )
    assert replayed == [(1,)]


def test_payload_breaking_its_schema_is_refused_into_dead_letters(platform):
    harness, broker = platform["harness"], platform["publisher"]
    message = envelope({"text": 42})  # no note_id, text not a string
    publish_raw(broker, message)
    for consumer in (ALPHA, BETA):
        rows = wait_for(
            lambda c=consumer: harness.query(
                c,
                "SELECT reason, error FROM service_kit_deadletter WHERE message_id = ?",
                (message["id"],),
            ),
            what=f"{consumer.name} to refuse it",
        )
        assert rows[0][0] == "invalid"
        assert "note_id" in rows[0][1]
    assert harness.query(
        ALPHA,
        "SELECT count(*) FROM service_kit_processedmessage WHERE message_id = ?",
        (message["id"],),
    ) == [(0,)]


def _message_id(harness, note_id: str) -> str:
    return harness.query(
        PUBLISHER,
        "SELECT id::text FROM service_kit_outboxmessage WHERE envelope->'data'->>'note_id' = ?",
        (note_id,),
    )[0][0]


def harness_manage(harness, service, *args: str) -> str:
    import subprocess
    import sys

    env = harness.env_for(service, **kit_env(service.name))
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", *args],
        cwd=service.path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_embedded_profile_delivers_across_processes(harness_factory):
    harness = harness_factory("embedded")
    web = harness.start_web(PUBLISHER, **kit_env("notes", ""))
    harness.start_worker(PUBLISHER, **kit_env("notes", ""))
    for service, consumes in (
        (ALPHA, "note.created"),
        (BETA, "note.created"),
        (GAMMA, "note.archived"),
    ):
        harness.migrate(service, **kit_env(service.name, consumes))
        harness.start_worker(service, beat=False, **kit_env(service.name, consumes))

    status, _, body = post_json(f"{web.url}/api/v1/notes/", {"text": "rollback"})
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, _, note = post_json(f"{web.url}/api/v1/notes/", {"text": "embedded"})
    assert status == 201
    hex_id = note["id"].replace("-", "")  # SQLite stores UUIDs as 32 hex characters
    for consumer in (ALPHA, BETA):
        wait_for(
            lambda c=consumer: (
                harness.query(
                    c, "SELECT count(*) FROM notes_noteseen WHERE note_id = ?", (hex_id,)
                )[0][0]
                == 1
            ),
            what=f"{consumer.name} to apply the event",
        )
    harness.wait_drained(
        "alpha.events", "beta.events", "gamma.events"
    )  # the broker's folder holds no message for any of them
    for consumer in (ALPHA, BETA):
        assert harness.query(consumer, "SELECT note_id FROM notes_noteseen") == [(hex_id,)]
    assert harness.query(GAMMA, "SELECT count(*) FROM notes_noteseen") == [(0,)]


def test_the_embedded_broker_never_shows_a_message_half_written(tmp_path, monkeypatch):
    """Given a publisher stalled in the middle of writing a message, when a worker polls its
    queue, then it finds nothing (not an empty file it would die on), and the whole message once
    written."""
    folder = str(tmp_path)
    options = {"data_folder_in": folder, "data_folder_out": folder, "processed_folder": folder}
    writing, release = threading.Event(), threading.Event()
    real_dumps = transport.dumps

    def stalled_dumps(payload):
        writing.set()
        release.wait(10)
        return real_dumps(payload)

    monkeypatch.setattr(transport, "dumps", stalled_dumps)
    with Connection("filesystem://", transport=transport.TRANSPORT, transport_options=options) as c:
        channel = c.default_channel
        publisher = threading.Thread(target=channel._put, args=("orders", {"id": 1}))
        publisher.start()
        assert writing.wait(10)
        with pytest.raises(Empty):
            channel._get("orders")
        release.set()
        publisher.join(10)
        assert channel._get("orders") == {"id": 1}


def _bind_together(options: dict, queues: list[str]) -> list[BaseException]:
    """Each queue bound to the exchange ``events`` by its own connection, all at one moment."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(queues))

    def bind(queue: str) -> None:
        with Connection(
            "filesystem://", transport=transport.TRANSPORT, transport_options=options
        ) as connection:
            start.wait(10)
            try:
                connection.default_channel._queue_bind("events", queue, "", queue)
            except BaseException as exc:  # noqa: BLE001 - the failure is what the test reports
                errors.append(exc)

    threads = [threading.Thread(target=bind, args=(queue,)) for queue in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return errors


def test_workers_binding_together_to_a_new_exchange_all_find_a_table(tmp_path):
    """Given a fresh broker folder, when workers bind their queues to one exchange at the same
    moment (``make up`` on a new ``var/``), then none reads a table still empty and every queue is
    bound."""
    queues = [f"q{n}" for n in range(6)]
    for attempt in range(30):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": folder}
        assert _bind_together(options, queues) == []
        with Connection(
            "filesystem://", transport=transport.TRANSPORT, transport_options=options
        ) as connection:
            assert {q.queue for q in connection.default_channel.get_table("events")} == set(queues)


def test_a_newer_minor_is_applied_and_an_unknown_major_dead_lettered_with_its_reason(platform):
    harness, broker = platform["harness"], platform["publisher"]
    minor = envelope({"note_id": str(uuid.uuid4()), "text": "x", "mood": "new"}, version="1.9")
    major = envelope({"note_id": str(uuid.uuid4()), "text": "x"}, version="2.0")
    publish_raw(broker, minor)
    publish_raw(broker, major)
    wait_for(lambda: seen_count(harness, ALPHA, minor["data"]["note_id"]) == 1, what="1.9 applied")
    rows = wait_for(
        lambda: harness.query(
            ALPHA,
            "SELECT reason, error FROM service_kit_deadletter WHERE message_id = ?",
            (major["id"],),
        ),
        what="2.0 dead-lettered",
    )
    assert rows[0][0] == "unknown_version"
    assert "major 2 is unknown here (known: 1)" in rows[0][1]
    assert seen_count(harness, ALPHA, major["data"]["note_id"]) == 0
