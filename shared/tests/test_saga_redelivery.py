"""Every saga message delivered twice, between real worker processes: one effect each.

The platform runs on a RabbitMQ node of the test's own whose firehose feeds a
:class:`~service_kit.testing.faults.Duplicator`: every task message any service publishes
(commands, events, retries) reaches its consumer a second time, with the same task id and body.
The workers' inboxes must drop each second copy: one transition per saga step, one reservation,
one charge, one stock commit, and no outcome announced twice. The same ``Idempotency-Key`` sent
twice (one after the other, then at the same time) makes one order and one charge.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import execute, query, wait_for
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from test_saga import (
    AUTH,
    INVENTORY,
    ORDER,
    ORDER_CLIENT,
    ORDER_SCOPES,
    PAYMENT,
    PRODUCT,
    TIMERS,
    create_service_client,
    customer_token,
    payments,
    settle,
    shell,
    stock,
)

from service_kit.testing import backing
from service_kit.testing.api import SHIPPING_ADDRESS as ADDRESS
from service_kit.testing.faults import Duplicator, RabbitMQNode
from service_kit.testing.processes import Harness

#: The saga's timers for fault tests: deadlines far beyond what a loaded machine needs for a step
#: (plus, in the fault tests, a worker's restart), so an order that fails was lost, not late.
PATIENT_TIMERS = {
    "ORDER_RESERVE_DEADLINE": "40",
    "ORDER_PAYMENT_DEADLINE": "40",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "120",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}


def start_saga(
    harness: Harness,
    skus: dict[str, int],
    timers: dict[str, str] | None = None,
    **service_env: dict[str, str],
) -> dict:
    """The services of the order saga as real processes (no gateway): auth and product web,
    the inventory, payment and product workers, order web and worker; each SKU created in the
    catalogue, followed by inventory, and given its stock. ``timers`` replace test_saga's
    TIMERS; ``service_env`` adds environment per service name (``payment={...}``).

    The databases are migrated side by side, then processes start side by side where nothing
    orders them: the platform is up in about half the time of one after the other. (Each web
    process takes its port as it starts, as the harness does: a port chosen long before could be
    taken meanwhile by any other program's outgoing connection.)"""
    timers = timers or TIMERS
    env = {name: {**timers, **service_env.get(name, {})} for name in ("inventory", "payment")}
    env["product"] = dict(timers)
    env["order"] = {**timers, **service_env.get("order", {})}
    env["auth"] = {"JWT_AUTO_KEY": "1"}
    workers = {}
    with ThreadPoolExecutor(max_workers=5) as pool:
        migrated = [
            pool.submit(harness.migrate, service, **env[service.name])
            for service in (AUTH, PRODUCT, INVENTORY, PAYMENT, ORDER)
        ]
        for future in migrated:
            future.result()
        auth = harness.start_web(AUTH, migrate=False, **env["auth"])
        keys = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        for name in env:
            env[name].update(keys)
        client = pool.submit(
            create_service_client, harness, *ORDER_CLIENT, ORDER_SCOPES, JWT_AUTO_KEY="1"
        )
        product = pool.submit(harness.start_web, PRODUCT, migrate=False, **env["product"])
        for service in (INVENTORY, PAYMENT):
            workers[service.name] = pool.submit(harness.start_worker, service, **env[service.name])
        product = product.result()
        workers["product"] = pool.submit(harness.start_worker, PRODUCT, **env["product"])
        # One shell for every SKU: each product.created makes the SKU in inventory.
        created = pool.submit(
            shell,
            harness,
            PRODUCT,
            "import json\nfrom decimal import Decimal\n"
            "from catalogue.services import product_create\n"
            "print(json.dumps({sku: str(product_create(sku=sku, name=sku, "
            f"price=Decimal('12.50')).pk) for sku in {list(skus)!r}}}))",
        )
        env["order"].update(
            PRODUCT_SERVICE_URL=product.url,
            AUTH_SERVICE_URL=auth.url,
            SERVICE_CLIENT_ID=ORDER_CLIENT[0],
            SERVICE_CLIENT_SECRET=ORDER_CLIENT[1],
        )
        client.result()
        order = pool.submit(harness.start_web, ORDER, migrate=False, **env["order"])
        workers["order"] = pool.submit(harness.start_worker, ORDER, **env["order"])
        ids = json.loads(created.result())
        workers = {name: future.result() for name, future in workers.items()}
        order = order.result()
    for sku, units in skus.items():
        wait_for(
            lambda s=sku: query(
                harness, INVENTORY, "SELECT 1 FROM stock_stockitem WHERE sku = ?", (s,)
            ),
            timeout=60,
            what=f"{sku} in inventory",
        )
        execute(
            harness, INVENTORY, "UPDATE stock_stockitem SET on_hand = ? WHERE sku = ?", (units, sku)
        )
    return {
        "harness": harness,
        "auth": auth,
        "product": product,
        "order": order,
        "workers": workers,
        "ids": ids,
        "keys": {**timers, **keys},
        "order_env": env["order"],
        "worker_env": env,
    }


def stop(harness: Harness) -> None:
    """Stop every process and drop the databases, each side by side: processes are all told at
    once (warm shutdown), and the drops share PostgreSQL's checkpoints instead of queueing for
    one each (five drops one after the other take half a minute on a busy server)."""
    for proc in harness.procs:
        proc.signal(signal.SIGTERM)
    harness.stop_all()
    databases = list(harness._databases)
    with ThreadPoolExecutor(max_workers=len(databases) or 1) as pool:
        list(pool.map(backing.drop_database, databases))
    harness._databases.clear()
    harness.cleanup()


def order_body(platform, sku: str, payment_token: str, quantity: int = 1) -> dict:
    return {
        "lines": [{"product_id": platform["ids"][sku], "quantity": quantity}],
        "shipping_address": ADDRESS,
        "payment_token": payment_token,
    }


def post_order(platform, token: str, body: dict, key: str | None = None, timeout: float = 20):
    """POST /orders/ → (status, headers, body)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(
        f"{platform['order'].url}/api/v1/orders/",
        data=json.dumps(body).encode(),
        method="POST",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, _json_or_text(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, _json_or_text(error.read())


def _json_or_text(raw: bytes):
    """The answer's JSON; its text when it is not JSON (the test's assertion then shows it)."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def history(platform, order_id: str) -> list[tuple[str, str]]:
    """The order's recorded transitions, (from, to), oldest first."""
    return query(
        platform["harness"],
        ORDER,
        "SELECT from_status, to_status FROM orders_ordertransition "
        "WHERE order_id = ? ORDER BY at, id",
        (order_id,),
    )


def outbox(platform, service, order_id: str) -> dict[str, int]:
    """How many messages about the order ``service`` published, by routing key."""
    rows = query(
        platform["harness"],
        service,
        "SELECT routing_key, count(*) FROM service_kit_outboxmessage "
        "WHERE envelope->'data'->>'order_id' = ? GROUP BY routing_key",
        (order_id,),
    )
    return dict(rows)


def reservations(platform, order_id: str) -> list[tuple]:
    return query(
        platform["harness"],
        INVENTORY,
        "SELECT state, lines FROM stock_reservation WHERE order_id = ?",
        (order_id,),
    )


def captures(platform, *order_ids: str) -> list[int]:
    """How many times the sandbox card network took money for each order's charge."""
    return json.loads(
        shell(
            platform["harness"],
            PAYMENT,
            "import json\nfrom payments.providers.sandbox import SandboxProvider\n"
            "from payments.services import charge_idempotency_key as key\n"
            f"print(json.dumps([SandboxProvider.captures(key(o)) for o in {list(order_ids)!r}]))",
        )
    )


def metric(harness, service, name: str) -> dict[str, float]:
    """A counter's samples (by their ``task`` label) from the service's processes' metric files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(harness.folder / "metrics" / service.name))
    values: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                task = sample.labels.get("task", "")
                values[task] = values.get(task, 0) + sample.value
    return values


def processed(platform, service, handler: str) -> int:
    return query(
        platform["harness"],
        service,
        "SELECT count(*) FROM service_kit_processedmessage WHERE handler = ?",
        (handler,),
    )[0][0]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "redis")
    backing.skip_unless(RabbitMQNode.available(), "no RabbitMQ server programs for a private node")
    folder = tmp_path_factory.mktemp("redelivery")
    with RabbitMQNode(folder / "rabbitmq") as node:
        vhost = f"t_{backing.RUN_ID}_twice"
        broker = node.add_vhost(vhost)
        with Duplicator(node, vhost) as duplicator:
            harness = Harness(folder, profile="real", broker_url=broker, rabbitmqctl=node.ctl)
            try:
                platform = start_saga(harness, {"TWICE-MUG": 10}, timers=PATIENT_TIMERS)
                yield {**platform, "duplicator": duplicator}
            finally:
                stop(harness)


def test_every_saga_message_twice_makes_one_transition_and_one_effect_each(platform):
    harness = platform["harness"]
    token = customer_token(platform["auth"])
    before = stock(platform, "TWICE-MUG")
    status, _, paid = post_order(platform, token, order_body(platform, "TWICE-MUG", "tok_visa", 2))
    assert status == 201, paid
    status, _, declined = post_order(
        platform, token, order_body(platform, "TWICE-MUG", "tok_chargeDeclined")
    )
    assert status == 201, declined

    assert settle(platform, token, paid["id"], timeout=90)["status"] == "CONFIRMED"
    assert settle(platform, token, declined["id"], timeout=90)["status"] == "CANCELLED"
    # The last answers (inventory.committed, inventory.released) are applied, twice delivered.
    wait_for(
        lambda: stock(platform, "TWICE-MUG") == (before[0] - 2, 0),
        timeout=60,
        what="2 units committed and the declined order's unit released",
    )
    wait_for(
        lambda: (
            query(
                harness,
                ORDER,
                "SELECT stock_committed_at IS NOT NULL FROM orders_order WHERE id = ?",
                (paid["id"],),
            )
            == [(True,)]
        ),
        timeout=60,
        what="order_service to note the commit",
    )

    # One transition per step, each recorded once.
    assert history(platform, paid["id"]) == [
        ("", "PENDING"),
        ("PENDING", "PAYMENT_PENDING"),
        ("PAYMENT_PENDING", "CONFIRMED"),
    ]
    assert history(platform, declined["id"]) == [
        ("", "PENDING"),
        ("PENDING", "PAYMENT_PENDING"),
        ("PAYMENT_PENDING", "CANCELLED"),
    ]
    # One reservation each, one payment each, money taken once.
    assert reservations(platform, paid["id"]) == [
        ("COMMITTED", [{"sku": "TWICE-MUG", "quantity": 2}])
    ]
    assert [state for state, _ in reservations(platform, declined["id"])] == ["RELEASED"]
    assert payments(platform, paid["id"]) == [("SUCCEEDED", "25.00", "")]
    assert payments(platform, declined["id"]) == [("FAILED", "12.50", "card_declined")]
    assert captures(platform, paid["id"]) == [1]
    # Every command sent once and every outcome announced once: a second delivery that got
    # through the inbox would announce its outcome again (inventory and payment answer a
    # repeated command with their first outcome, under a new message id).
    assert outbox(platform, ORDER, paid["id"]) == {
        "order.created": 1,
        "inventory.reserve": 1,
        "payment.charge": 1,
        "inventory.commit": 1,
        "order.confirmed": 1,
    }
    assert outbox(platform, ORDER, declined["id"]) == {
        "order.created": 1,
        "inventory.reserve": 1,
        "payment.charge": 1,
        "inventory.release": 1,
        "order.cancelled": 1,
    }
    assert outbox(platform, INVENTORY, paid["id"]) == {
        "inventory.reserved": 1,
        "inventory.committed": 1,
    }
    assert outbox(platform, INVENTORY, declined["id"]) == {
        "inventory.reserved": 1,
        "inventory.released": 1,
    }
    assert outbox(platform, PAYMENT, paid["id"]) == {"payment.succeeded": 1}
    assert outbox(platform, PAYMENT, declined["id"]) == {"payment.failed": 1}

    # The doubles did arrive, and the inboxes are what dropped them.
    assert platform["duplicator"].error is None, platform["duplicator"].error
    copied = platform["duplicator"].copied
    assert copied.get("inventory.reserve", 0) >= 2 and copied.get("payment.charge", 0) >= 2
    wanted = {
        INVENTORY: ("inventory.reserve", "inventory.commit", "inventory.release"),
        PAYMENT: ("payment.charge",),
        ORDER: (
            "events.inventory.reserved",
            "events.payment.succeeded",
            "events.payment.failed",
            "events.inventory.committed",
            "events.inventory.released",
        ),
    }
    for service, tasks in wanted.items():
        # Each message delivered twice, applied once: as many copies dropped as the inbox holds.
        seen: dict[str, tuple[float, int]] = {}

        def balanced(service=service, tasks=tasks, seen=seen):
            dropped = metric(harness, service, "messaging_duplicates_total")
            for task in tasks:
                seen[task] = (dropped.get(task, 0), processed(platform, service, task))
            return all(copies == applied >= 1 for copies, applied in seen.values())

        try:
            wait_for(balanced, timeout=30, interval=0.5, what=f"{service.name}'s inbox")
        except AssertionError:
            pytest.fail(f"{service.name}: (copies dropped, messages applied) by task: {seen}")


def test_the_same_idempotency_key_twice_makes_one_order_and_one_charge(platform):
    token = customer_token(platform["auth"])
    body = order_body(platform, "TWICE-MUG", "tok_visa")

    key = f"checkout-{uuid.uuid4()}"
    first = post_order(platform, token, body, key)
    again = post_order(platform, token, body, key)
    assert first[0] == again[0] == 201, (first, again)
    assert again[1]["Idempotent-Replayed"] == "true"
    assert again[2]["id"] == first[2]["id"]

    # Sent at the same time: one request makes the order, the other is told it is in progress
    # (409) or, if it came second, replayed.
    key = f"checkout-{uuid.uuid4()}"
    answers: list = [None, None]
    barrier = threading.Barrier(2)

    def send(index: int) -> None:
        barrier.wait()
        answers[index] = post_order(platform, token, body, key)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(answer[0] for answer in answers)
    assert statuses in ([201, 201], [201, 409]), answers
    made = {answer[2]["id"] for answer in answers if answer[0] == 201}
    assert len(made) == 1, answers

    orders = {first[2]["id"], *made}
    mine = query(
        platform["harness"],
        ORDER,
        "SELECT id::text FROM orders_order WHERE customer_id = "
        "(SELECT customer_id FROM orders_order WHERE id = ?)",
        (first[2]["id"],),
    )
    assert {row[0] for row in mine} == orders  # two keys, two orders: no third
    for order_id in orders:
        assert settle(platform, token, order_id, timeout=90)["status"] == "CONFIRMED"
        assert payments(platform, order_id) == [("SUCCEEDED", "12.50", "")]
    assert captures(platform, *orders) == [1, 1]
