"""The broker unreachable for 20 s while orders are placed.

The platform runs on a RabbitMQ node of the test's own, stopped for 20 seconds and started again
(its durable queues and persistent messages survive, as a real broker's do). While it is down
every order is answered at once, accepted (201: the order and its command are in the outbox,
which does not need the broker) or refused with a clear JSON error, and readiness stays 200
with the broker named as degraded (the outbox buffers; the pod stays in rotation). Once it is
back, the outbox sweep sends what the relay could not, the workers reconnect, and every accepted
order completes once.
"""

from __future__ import annotations

import time

import pytest
from platform_helpers import (
    ORDER,
    assert_each_done_once,
    customer_token,
    order_body,
    post_order,
    start_saga,
    stock,
    stop,
)

from platform_tools.testing import backing
from platform_tools.testing.client import call
from platform_tools.testing.faults import RabbitMQNode
from platform_tools.testing.processes import Harness, wait_for

SKU = "OUTAGE-MUG"
OUTAGE = 20.0
#: Deadlines far beyond the outage and the workers' reconnection: an order that fails was lost.
TIMERS = {
    "ORDER_RESERVE_DEADLINE": "150",
    "ORDER_PAYMENT_DEADLINE": "60",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "300",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "redis")
    backing.skip_unless(RabbitMQNode.available(), "no RabbitMQ server programs for a private node")
    folder = tmp_path_factory.mktemp("broker")
    with RabbitMQNode(folder / "rabbitmq") as node:
        broker = node.add_vhost(f"t_{backing.RUN_ID}_outage")
        harness = Harness(folder, profile="real", broker_url=broker, rabbitmqctl=node.ctl)
        try:
            yield {**start_saga(harness, {SKU: 100}, timers=TIMERS), "node": node}
        finally:
            stop(harness)


def unpublished(platform) -> int:
    return platform["harness"].query(
        ORDER,
        "SELECT count(*) FROM service_kit_outboxmessage WHERE published_at IS NULL",
    )[0][0]


def test_orders_placed_while_the_broker_is_down_complete_once_it_is_back(platform):
    node, order = platform["node"], platform["order"]
    before = stock(platform, SKU)
    tokens = [customer_token(platform["auth"]) for _ in range(8)]

    node.stop()
    down_at = time.monotonic()
    placed, refused = [], []
    for token in tokens:
        started = time.monotonic()
        status, _, body = post_order(platform, token, order_body(platform, SKU, "tok_visa"))
        took = time.monotonic() - started
        # Never a hang nor a 500: accepted, or refused with the contract's error body.
        assert took < 8, f"an order took {took:.1f}s with the broker down"
        if status == 201:
            placed.append((token, body))
        else:
            clear = status == 503 and isinstance(body, dict) and body["error"]["code"]
            assert clear, (status, body, order.tail(20))
            refused.append(body)
        # The outage's shape is what is under test: orders spread over its first seconds.
        time.sleep(max(0.0, (OUTAGE - 4) / len(tokens) - took))
    assert placed, refused  # the outbox does not need the broker: orders are still taken
    # Still ready (the outbox buffers): a broker blip must not take pods out of rotation.
    status, ready = call("GET", f"{order.url}/readyz")
    assert status == 200 and ready["failed"] == [], ready
    assert ready["status"] == "degraded" and "broker" in ready["degraded"], ready
    assert unpublished(platform) >= 2 * len(placed)  # order.created + inventory.reserve each
    # The broker stays down for the whole outage under test (OUTAGE seconds), then comes back.
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))

    node.start()
    wait_for(
        lambda: "broker" not in call("GET", f"{order.url}/readyz")[1]["degraded"],
        timeout=60,
        what="order_service reaching the broker again",
    )
    assert_each_done_once(platform, SKU, placed, before, timeout=240)
    wait_for(lambda: unpublished(platform) == 0, timeout=60, what="the outbox emptied")
