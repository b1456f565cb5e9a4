"""A rolling restart that loses nothing, as Kubernetes runs one (platform_tools.testing.rolling).

The whole platform (platform_tools.testing.stack) with two instances of every web process and
every worker. While orders arrive at 10/s and catalogue reads at 100/s through the gateway, each
instance in turn gets SIGTERM and is started again (round one: the first instance of every
process, round two: the second). The load runs until it flows through both gateway instances
before the first round and again after the last. At the end no request failed, every order is
CONFIRMED, the stock is down by exactly the units ordered with nothing still reserved, and each
order has one successful payment of its total.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from platform_tools.testing import backing
from platform_tools.testing.processes import wait_for
from platform_tools.testing.rolling import (
    PRICE,
    SKU,
    TIMERS,
    Load,
    customer_token,
    restart_in_turn,
    second_instances,
    stocked_product,
    wait_final,
)
from platform_tools.testing.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    with Stack(tmp_path_factory.mktemp("rolling"), env=TIMERS, prometheus=False) as stack:
        yield stack


def stock(stack: Stack) -> tuple[int, int]:
    return stack.query(
        "inventory", "SELECT on_hand, reserved FROM stock_stockitem WHERE sku = %s", (SKU,)
    )[0]


def test_rolling_restart_loses_nothing(stack):
    product_id = stocked_product(stack, on_hand=5000)
    token = customer_token(stack)
    first, second = second_instances(stack)
    customer = Load([first["gateway.web"].url, second["gateway.web"].url], token, product_id)

    before = stock(stack)
    started = time.monotonic()
    customer.start()
    customer.flowing()  # steady: both gateways serve, orders are placed
    customer.phase = "restart"
    restart_in_turn(stack, customer, (first, second))
    customer.phase = "after"
    customer.flowing()  # both restarted gateways serve again, orders still placed
    customer.stop()
    elapsed = time.monotonic() - started

    orders = customer.orders
    reads = customer.count("read", ok=True)
    failures = customer.failures
    print(
        f"rolling restart: {elapsed:.0f} s, {len(orders)} orders "
        f"({len(orders) / elapsed:.1f}/s), {reads} reads "
        f"({reads / elapsed:.0f}/s), {len(failures)} failed"
    )
    assert failures == []
    assert customer.count("order", phase="restart") and customer.count("read", phase="restart")
    # every instance (each one started again) is still serving: none failed to share its port
    assert [key for key, proc in (*first.items(), *second.items()) if not proc.alive()] == []

    assert set(wait_final(stack, orders).values()) == {"CONFIRMED"}
    wait_for(
        lambda: stock(stack) == (before[0] - len(orders), before[1]),
        timeout=60,
        what="the stock down by exactly the units ordered",
    )
    paid = stack.query(
        "payment",
        "SELECT order_id::text, count(*), sum(amount) FROM payments_payment "
        "WHERE status = 'SUCCEEDED' GROUP BY order_id",
    )
    assert {order: (count, total) for order, count, total in paid} == {
        order: (1, Decimal(PRICE)) for order in orders
    }
