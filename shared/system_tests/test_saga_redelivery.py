"""Every saga message delivered twice, between real worker processes: one effect each.

The platform runs on a RabbitMQ node of the test's own whose firehose feeds a
:class:`~platform_tools.testing.faults.Duplicator`: every task message any service publishes
(commands, events, retries) reaches its consumer a second time, with the same task id and body.
The workers' inboxes must drop each second copy: one transition per saga step, one reservation,
one charge, one stock commit, and no outcome announced twice. The same ``Idempotency-Key`` sent
twice (one after the other, then at the same time) makes one order and one charge.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from platform_helpers import (
    INVENTORY,
    ORDER,
    PATIENT_TIMERS,
    PAYMENT,
    captures,
    customer_token,
    history,
    order_body,
    outbox,
    payments,
    post_order,
    reservations,
    settle,
    start_saga,
    stock,
    stop,
)
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from platform_tools.testing import backing
from platform_tools.testing.faults import Duplicator, RabbitMQNode
from platform_tools.testing.processes import Harness, wait_for


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
    return platform["harness"].query(
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
            harness.query(
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
    mine = platform["harness"].query(
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
