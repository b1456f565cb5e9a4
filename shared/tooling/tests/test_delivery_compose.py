"""The compose validator passes on the repository and fails on each breakage the issue names;
the stack's own scripts and broker definitions do on real servers what compose relies on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from copies import edit

from platform_tools.testing.delivery import compose
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

COMPOSE = "compose/docker-compose.yml"
ENV_EXAMPLE = "compose/.env.example"
DEFINITIONS = "compose/rabbitmq/definitions.json"
PROMETHEUS = "compose/prometheus/prometheus.yml"
ALERTS = "charts/platform/files/prometheus/alerts.yml"
INIT_DATABASES = "compose/postgres/init-databases.sh"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The part of the repository the validator reads: compose/, the chart's files compose
    mounts, the Dockerfile it builds, and each service's code (settings, commands it sends)."""
    shutil.copytree(REPO_ROOT / "compose", tmp_path / "compose")
    shutil.copytree(REPO_ROOT / "charts/platform/files", tmp_path / "charts/platform/files")
    (tmp_path / "shared/docker").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "shared/docker/Dockerfile", tmp_path / "shared/docker/Dockerfile")
    ignore = shutil.ignore_patterns("tests", "__pycache__", "*.sqlite3")
    for service in SERVICES:
        shutil.copytree(REPO_ROOT / service.folder, tmp_path / service.folder, ignore=ignore)
    return tmp_path


def reported(problems: list[str], expected: str) -> bool:
    return any(expected in problem for problem in problems)


def test_the_repository_passes():
    assert compose.check(REPO_ROOT) == []


def test_an_unbroken_copy_passes(tree):
    assert compose.check(tree) == []


INVENTORY_WEB = (
    "  inventory-web:\n    <<: *inventory\n    command: web\n    healthcheck: *web-health\n"
)
ORDER_SECRET = "SECRET_KEY: ${ORDER_SECRET_KEY:?missing from compose/.env}"
PAYMENT_DB = "postgres://payment:${PAYMENT_DB_PASSWORD:?missing from compose/.env}@"
CLIENT_SECRET = '"--secret", "${ORDER_SERVICE_CLIENT_SECRET:?missing from compose/.env}"'


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # what docker-compose itself refuses
        pytest.param(
            COMPOSE,
            "  redis:\n    image:",
            "  redis:\n   image:",
            "docker-compose config (core profile)",
            id="yaml-typo",
        ),
        pytest.param(
            COMPOSE,
            "  read_only: true",
            "  read_onyl: true",
            "read_onyl",
            id="unknown-key",
        ),
        # password resets: mail goes out over SMTP, never to the console (the logs)
        pytest.param(
            COMPOSE,
            "    EMAIL_URL: ${EMAIL_URL:-smtp://mailpit:1025}\n",
            "",
            "auth-web: EMAIL_URL must name an SMTP transport",
            id="no-mail-transport",
        ),
        pytest.param(
            ENV_EXAMPLE,
            "EMAIL_URL=smtp://mailpit:1025",
            "EMAIL_URL=consolemail://",
            "auth-migrate: EMAIL_URL must name an SMTP transport",
            id="mail-to-the-console-in-env-file",
        ),
        pytest.param(
            COMPOSE,
            "  mailpit:\n",
            "  mailcatcher:\n",
            "auth-worker: EMAIL_URL names mailpit, which is not a service",
            id="mail-server-missing",
        ),
        pytest.param(
            COMPOSE,
            "      payment-migrate:\n        condition: service_completed_successfully\n"
            "  payment-worker:",
            "      payment-migrat:\n        condition: service_completed_successfully\n"
            "  payment-worker:",
            "payment-migrat",
            id="depends-on-undefined-service",
        ),
        pytest.param(
            ENV_EXAMPLE,
            "REDIS_PASSWORD=change-me-redis\n",
            "",
            ".env.example does not define REDIS_PASSWORD",
            id="env-example-lacks-a-variable",
        ),
        # what it does not
        pytest.param(
            COMPOSE,
            INVENTORY_WEB,
            "  inventory-web:\n    <<: *inventory\n    command: web\n",
            "inventory-web runs for good but has no healthcheck",
            id="missing-healthcheck",
        ),
        pytest.param(
            COMPOSE,
            "  healthcheck: *worker-health\n",
            "\n",
            "auth-worker runs for good but has no healthcheck",
            id="workers-without-healthcheck",
        ),
        pytest.param(
            COMPOSE,
            INVENTORY_WEB + "    depends_on:\n      <<: *backing\n      inventory-migrate:\n"
            "        condition: service_completed_successfully\n",
            INVENTORY_WEB + "    depends_on:\n      <<: *backing\n      inventory-migrate:\n"
            "        condition: service_started\n",
            "inventory-web must depend on inventory-migrate with condition "
            "service_completed_successfully",
            id="web-before-migrations",
        ),
        pytest.param(
            COMPOSE,
            "x-backing: &backing\n  postgres:\n    condition: service_healthy\n",
            "x-backing: &backing\n  postgres:\n    condition: service_started\n",
            "order-worker must depend on postgres with condition service_healthy",
            id="before-postgres-is-healthy",
        ),
        pytest.param(
            COMPOSE,
            "x-worker: &worker\n  command: worker\n",
            "x-worker: &worker\n  command: worker\n  restart: on-failure\n",
            "restart merged from more than one anchor",
            id="ambiguous-merge",
        ),
        pytest.param(
            COMPOSE,
            "      SERVICE: payment_service",
            "      SERVICE: order_service",
            "payment-web is built with SERVICE=order_service",
            id="wrong-image",
        ),
        pytest.param(
            COMPOSE,
            ORDER_SECRET,
            "SECRET_KEY: 6f1d0c8e9b7a4d2f8e3c5a1b9d7f0e2c",
            "order-web: SECRET_KEY is written in the compose file",
            id="secret-inlined",
        ),
        pytest.param(
            COMPOSE,
            PAYMENT_DB,
            "postgres://payment:s3cret-payment@",
            "payment-web: a URL carries a password written in the compose file",
            id="url-password-inlined",
        ),
        pytest.param(
            COMPOSE,
            "redis://:${REDIS_PASSWORD:?missing from compose/.env}@",
            "redis://:${REDIS_PASSWORD:-changeme}@",
            "a URL carries a password written in the compose file",
            id="secret-as-default",
        ),
        pytest.param(
            COMPOSE,
            CLIENT_SECRET,
            '"--secret", "order-client-secret-0123456789"',
            "auth-clients: the value of --secret is written in the compose file",
            id="secret-option-inlined",
        ),
        pytest.param(
            COMPOSE,
            "      auth-clients:\n        condition: service_completed_successfully\n"
            "  order-worker:",
            "      auth-clients:\n        condition: service_completed_successfully\n"
            "      prometheus:\n        condition: service_healthy\n  order-worker:",
            "order-web depends on prometheus, which only runs with profile observability",
            id="core-needs-observability",
        ),
        pytest.param(
            INIT_DATABASES,
            "for service in gateway auth user product inventory order payment; do",
            "for service in gateway auth user product inventory order; do",
            "does not make the payment database",
            id="no-payment-database",
        ),
        # RabbitMQ's definitions
        pytest.param(
            DEFINITIONS, '"vhosts": [', '"vhosts": [[', "definitions.json", id="definitions-json"
        ),
        pytest.param(
            DEFINITIONS,
            '"name": "inventory",\n      "password"',
            '"name": "inventori",\n      "password"',
            "0 users named inventory",
            id="definitions-missing-user",
        ),
        pytest.param(
            DEFINITIONS,
            '"read": "^(order\\\\.tasks',
            '"read": ".*|^(order\\\\.tasks',
            "order may read inventory's queue inventory.events",
            id="definitions-read-too-broad",
        ),
        pytest.param(
            DEFINITIONS,
            '"write": "^(payment\\\\.failed|payment\\\\.refunded|payment\\\\.succeeded)$"',
            '"write": "^(payment|order)\\\\..+$"',
            "payment may publish order.confirmed",
            id="definitions-publishes-others-events",
        ),
        pytest.param(
            DEFINITIONS,
            '"routing_key": "payment.refunded"',
            '"routing_key": "payment.refund"',
            "payment.refunded is not bound on order.events",
            id="definitions-binding-missing",
        ),
        pytest.param(
            DEFINITIONS,
            '"write": "^(product\\\\.tasks|domain_events',
            '"write": "^(product\\\\.tasks|amq\\\\.default|domain_events',
            "product may write amq.default (any queue by its name)",
            id="definitions-default-exchange",
        ),
        pytest.param(
            DEFINITIONS,
            '"write": "^(product\\\\.tasks|retry\\\\.product\\\\..+)$"',
            '"write": "^(product\\\\.tasks|retry\\\\.product\\\\..+|payment\\\\.refund)$"',
            "product may send payment.refund",
            id="definitions-sends-others-commands",
        ),
        pytest.param(
            DEFINITIONS,
            '"write": "^(inventory\\\\.tasks|retry\\\\.inventory\\\\..+)$"',
            '"write": "^(inventory\\\\.tasks|retry\\\\..+)$"',
            "inventory may send retry.order.events",
            id="definitions-retries-into-others-queues",
        ),
        pytest.param(
            DEFINITIONS,
            '"read": "^(payment\\\\.tasks|retry\\\\.payment\\\\..+|payment\\\\.charge|',
            '"read": "^(payment\\\\.tasks|retry\\\\.payment\\\\..+|inventory\\\\.reserve|',
            "payment may bind inventory.reserve",
            id="definitions-binds-others-commands",
        ),
        pytest.param(
            "charts/platform/files/rabbitmq/definitions.json",
            '"name": "domain_commands"',
            '"name": "commands"',
            "charts/platform/files/rabbitmq/definitions.json is not the same as",
            id="chart-definitions-differ",
        ),
        pytest.param(
            DEFINITIONS,
            '"password": "${ORDER_RABBITMQ_PASSWORD}"',
            '"password": "${ORDER_AMQP_PASSWORD}"',
            "ORDER_AMQP_PASSWORD is not set",
            id="definitions-password-not-in-env",
        ),
        # Prometheus
        pytest.param(
            PROMETHEUS,
            "scrape_interval: 15s\n",
            "scrape_interval: 15 seconds\n",
            "promtool check config",
            id="prometheus-invalid",
        ),
        pytest.param(
            PROMETHEUS,
            "rule_files:\n  - rules/alerts.yml",
            "rule_files:\n  - rules/alert.yml",
            "prometheus reads /etc/prometheus/rules/alert.yml, which compose does not mount",
            id="prometheus-rules-not-mounted",
        ),
        pytest.param(
            PROMETHEUS,
            '      - targets: ["order-worker:9100"]\n        labels: {service: order, '
            "component: worker}\n",
            "",
            "prometheus.yml does not scrape order-worker:9100",
            id="worker-not-scraped",
        ),
        pytest.param(
            PROMETHEUS,
            "labels: {service: payment, component: web}",
            "labels: {service: payments, component: web}",
            "payment-web:8000 must carry service=payment, component=web",
            id="target-mislabelled",
        ),
        pytest.param(
            COMPOSE,
            "      - --enable-feature=exemplar-storage\n",
            "",
            "prometheus runs without --enable-feature=exemplar-storage",
            id="exemplars-not-kept",
        ),
        pytest.param(
            ALERTS,
            "expr: ",
            "expr: sum(",
            "promtool check config",
            id="mounted-rules-invalid",
        ),
    ],
)
def test_a_broken_copy_fails(tree, path, old, new, expected):
    edit(tree / path, old, new)
    problems = compose.check(tree)
    assert reported(problems, expected), problems


def test_a_missing_mounted_file_fails(tree):
    (tree / ALERTS).unlink()
    problems = compose.check(tree)
    assert reported(problems, f"prometheus mounts {ALERTS}, which is not in the repository")


@pytest.mark.parametrize("missing", ["docker-compose", "promtool"])
def test_a_missing_tool_is_a_problem(tree, monkeypatch, tmp_path_factory, missing):
    """Given a PATH with every program the validator runs but one, it says which is missing."""
    path = tmp_path_factory.mktemp("bin")
    for program in ("docker-compose", "promtool", "sh", "sed", "grep", "tr", "sort", "mv", "id"):
        if program != missing:
            (path / program).symlink_to(shutil.which(program))
    monkeypatch.setenv("PATH", str(path))
    problems = compose.check(tree)
    assert reported(problems, f"{missing} is not installed"), problems


# -- the stack's scripts on real servers --------------------------------------------------------


def example_env() -> dict[str, str]:
    return compose.read_env_file((REPO_ROOT / ENV_EXAMPLE).read_text())


def test_the_init_script_makes_one_private_database_per_service():
    """Given the postgres image's init step (the script run by psql's client as the superuser),
    each service gets a login role with a password and a database it owns that no other role
    may connect to."""
    from platform_tools.testing.faults import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        env = {
            **os.environ,
            **example_env(),
            "PGHOST": "127.0.0.1",
            "PGPORT": str(cluster.port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres",
        }
        subprocess.run(  # noqa: S603 - sh runs the repository's own script
            ["sh", str(REPO_ROOT / INIT_DATABASES)],  # noqa: S607 - sh runs the repository's own script
            env=env,
            check=True,
            capture_output=True,
        )
        names = [service.name for service in SERVICES]
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            owners = conn.execute(
                "SELECT d.datname, r.rolname, r.rolcanlogin, r.rolsuper, "
                "a.rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_database d "
                "JOIN pg_roles r ON r.oid = d.datdba JOIN pg_authid a ON a.oid = r.oid "
                "WHERE NOT d.datistemplate AND d.datname <> 'postgres'"
            ).fetchall()
            assert sorted(owners) == sorted((name, name, True, False, True) for name in names)
            for role in names:
                allowed = {
                    database: conn.execute(
                        "SELECT has_database_privilege(%s, %s, 'CONNECT')", (role, database)
                    ).fetchone()[0]
                    for database in names
                }
                assert allowed == {database: database == role for database in names}, role
    finally:
        cluster.destroy()


RENDER = "compose/rabbitmq/render-definitions.sh"
#: The broker's users: one per service, and Flower's.
BROKER_USERS = [*(service.name for service in SERVICES), "flower"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A RabbitMQ node of the test's own that loads the definitions at boot, rendered by the
    compose service's script with the example's passwords: as the stack's broker starts."""
    from platform_tools.testing.faults import RabbitMQNode

    folder = tmp_path_factory.mktemp("rabbitmq")
    rendered = folder / "definitions.json"
    env = {"PATH": os.environ["PATH"], **example_env()}
    subprocess.run(  # noqa: S603 - sh runs the repository's own script
        ["sh", str(REPO_ROOT / RENDER), str(REPO_ROOT / DEFINITIONS), str(rendered)],  # noqa: S607 - sh runs the repository's own script
        env=env,
        check=True,
    )
    node = RabbitMQNode(folder / "node")
    node.env()  # its folders and configuration; then the definitions, as rabbitmq.conf does
    with (node.folder / "rabbitmq.conf").open("a") as conf:
        conf.write(f"load_definitions = {rendered}\n")
    node.start()
    yield {
        user: f"amqp://{user}:{env[f'{user.upper()}_RABBITMQ_PASSWORD']}@127.0.0.1:{node.port}"
        "/platform"
        for user in BROKER_USERS
    }
    node.stop()


def allowed(url: str, action) -> bool:
    """Whether the broker lets this user do ``action(channel)`` (publishes are confirmed)."""
    from amqp.exceptions import AccessRefused, PreconditionFailed
    from kombu import Connection

    with Connection(url, transport_options={"confirm_publish": True}, connect_timeout=10) as conn:
        try:
            action(conn.channel())
        except (AccessRefused, PreconditionFailed):  # PRECONDITION_FAILED: a forged user_id
            return False
    return True


def publish_event(event: str):
    from kombu import Producer

    from service_kit.messaging.app import DOMAIN_EVENTS

    def action(channel):
        Producer(channel).publish(
            {"type": event}, exchange=DOMAIN_EVENTS, routing_key=event, declare=[DOMAIN_EVENTS]
        )

    return action


def send_command(command: str, exchange: str = "domain_commands", **properties):
    """As the outbox relay: on the commands exchange, the command's name as its routing key
    (``retry.<queue>`` for a retry; ``exchange=""``: the default exchange)."""
    from kombu import Exchange, Producer

    def action(channel):
        target = Exchange(exchange, "topic", durable=True) if exchange else Exchange("")
        Producer(channel).publish(
            {"type": command},
            exchange=target,
            routing_key=command,
            declare=[target] if exchange else [],
            **properties,
        )

    return action


def publish_as(user: str, event: str):
    """An event with AMQP ``user_id`` set (the kit's publishers set their own user)."""
    from kombu import Producer

    from service_kit.messaging.app import DOMAIN_EVENTS

    def action(channel):
        Producer(channel).publish(
            {"type": event},
            exchange=DOMAIN_EVENTS,
            routing_key=event,
            declare=[DOMAIN_EVENTS],
            user_id=user,
        )

    return action


def declare_worker_queues(service: str):
    """As the service's Celery worker starts: its queues (bound to the events it consumes), its
    remote-control queue, and its heartbeat on the events exchange."""
    from kombu import Exchange, Producer, Queue

    from service_kit.messaging.app import service_queues

    def action(channel):
        folder = next(s.folder for s in SERVICES if s.name == service)
        consumes, commands = compose.settings_messaging(REPO_ROOT / folder / folder / "settings.py")
        for queue in service_queues(service, consumes, commands):
            queue(channel).declare()
            channel.basic_get(queue.name)
        pidbox = Exchange("celery.pidbox", "fanout", durable=False, auto_delete=True)
        control = Queue(f"{service}@0f3c2a1b9d8e.celery.pidbox", pidbox, auto_delete=True)
        control(channel).declare()
        events = Exchange("celeryev", "topic", durable=True)
        Producer(channel).publish(
            {}, exchange=events, routing_key="worker.heartbeat", declare=[events]
        )

    return action


def read(queue: str):
    return lambda channel: channel.basic_get(queue)


WORKERS = [service.name for service in SERVICES if service.worker]


@pytest.mark.parametrize("service", WORKERS)
def test_each_worker_may_do_its_own_work(broker, service):
    assert allowed(broker[service], declare_worker_queues(service))
    types = compose.platform_message_types()
    for name, owners in types.items():
        if owners.kind == "event" and owners.owner == service:
            assert allowed(broker[service], publish_as(service, name)), name
        if owners.kind == "command" and service in owners.senders:
            assert allowed(broker[service], send_command(name, user_id=service)), name
    mine = compose.platform_messaging(REPO_ROOT, types)[service]
    for key in mine.command_keys:  # its own retries and periodic tasks
        assert allowed(broker[service], send_command(key, user_id=service)), key


def flower_watches():
    """As Flower: a queue of its own on the workers' events, and a broadcast to their control."""
    from kombu import Exchange, Producer, Queue

    def action(channel):
        events = Queue("celeryev.5b1d", Exchange("celeryev", "topic"), "#", auto_delete=True)
        events(channel).declare()
        channel.basic_get(events.name)
        control = Exchange("celery.pidbox", "fanout", durable=False, auto_delete=True)
        Producer(channel).publish({"method": "ping"}, exchange=control, declare=[control])

    return action


def test_flower_may_watch_the_workers_and_the_gateway_may_connect(broker):
    assert allowed(broker["flower"], flower_watches())
    assert allowed(broker["gateway"], lambda channel: None)


@pytest.mark.parametrize(
    ("user", "action", "what"),
    [
        ("order", publish_event("payment.succeeded"), "publish another service's event"),
        ("payment", publish_event("order.confirmed"), "publish another service's event"),
        ("auth", publish_event("product.created"), "publish another service's event"),
        ("product", send_command("payment.charge"), "send a command it does not send"),
        ("product", send_command("payment.refund"), "send a command it does not send"),
        ("product", send_command("payment.refund", exchange=""), "write the default exchange"),
        ("order", send_command("order.events", exchange=""), "write the default exchange"),
        ("product", send_command("retry.order.events"), "retry into another's queue"),
        ("inventory", send_command("order.tasks"), "run another service's tasks"),
        ("payment", send_command("inventory.release"), "send a command it does not send"),
        ("product", publish_as("payment", "product.created"), "say it is another user"),
        ("user", read("order.events"), "read another service's queue"),
        ("inventory", read("payment.charge"), "read another service's command queue"),
        ("gateway", publish_event("user.registered"), "publish at all"),
        ("gateway", read("auth.tasks"), "read any queue"),
        ("flower", read("order.events"), "read a service's queue"),
        ("flower", publish_event("order.created"), "publish events"),
    ],
)
def test_no_user_may_do_another_services_work(broker, user, action, what):
    assert not allowed(broker[user], action), f"{user} may {what}"


def test_commands_and_events_reach_their_queues_before_any_worker_ran(broker):
    """The queues and bindings come with the definitions: an order's command and a product's
    event wait in their consumers' queues even though no worker of theirs ever connected."""
    owners = (
        ("inventory", "inventory.reserve"),
        ("inventory", "inventory.events"),
        ("payment", "payment.charge"),
    )
    for user, queue in owners:  # what the tests above sent, each service as itself
        assert allowed(broker[user], lambda channel, q=queue: channel.queue_purge(q))
    assert allowed(broker["order"], send_command("inventory.reserve"))
    assert allowed(broker["product"], publish_event("product.created"))
    assert allowed(broker["order"], send_command("payment.charge"))
    got = {}

    def take(queue):
        def action(channel):
            message = channel.basic_get(queue, no_ack=True)
            got[queue] = message and message.body

        return action

    for user, queue in owners:
        assert allowed(broker[user], take(queue))
    assert {q: json.loads(body)["type"] for q, body in got.items()} == {
        "inventory.reserve": "inventory.reserve",
        "inventory.events": "product.created",
        "payment.charge": "payment.charge",
    }
