"""order_service when product_service is down: fast 503s with nothing written, readiness naming
the open breaker (still 200: the service answers), then recovery with no one's help."""

from __future__ import annotations

import time

import pytest
from platform_helpers import (
    AUTH,
    ORDER,
    PRODUCT,
    TIMERS,
    customer_token,
    shell,
)

from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.client import call
from platform_tools.testing.processes import wait_for


@pytest.fixture
def platform(harness_factory):
    harness = harness_factory("real")
    auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
    keys = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json", **TIMERS}
    product = harness.start_web(PRODUCT, **keys)
    product_id = shell(
        harness,
        PRODUCT,
        "from decimal import Decimal\nfrom catalogue.services import product_create\n"
        "print(product_create(sku='DOWN-MUG', name='Mug', price=Decimal('9.90')).pk)",
    )
    order = harness.start_web(
        ORDER,
        **keys,
        PRODUCT_SERVICE_URL=product.url,
        BREAKER_FAILURES="3",
        BREAKER_RESET_TIMEOUT="2",
    )
    return harness, auth, product, order, product_id


def test_orders_fail_fast_while_product_service_is_down_and_work_again(platform):
    harness, auth, product, order, product_id = platform
    token = customer_token(auth)
    body = {
        "lines": [{"product_id": product_id, "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }
    url = f"{order.url}/api/v1/orders/"
    assert call("POST", url, token, body)[0] == 201

    port = product.port
    product.stop()
    answers = [call("POST", url, token, body) for _ in range(4)]  # the breaker opens
    assert {status for status, _ in answers} == {503}
    assert {body["error"]["code"] for _, body in answers} == {"upstream_unavailable"}
    started = time.perf_counter()
    status, _ = call("POST", url, token, body)
    elapsed = time.perf_counter() - started
    assert status == 503 and elapsed < 0.1, elapsed  # answered by the open breaker
    assert harness.query(ORDER, "SELECT count(*) FROM orders_order") == [
        (1,)
    ]  # nothing half-written
    status, ready = call("GET", f"{order.url}/readyz")
    assert status == 200, ready  # still serving: only the calls that need product fail
    assert ready["status"] == "degraded" and ready["degraded"] == ["product"], ready
    # open, or half-open if the machine was slow: its reset timeout passed, no trial yet
    assert ready["upstreams"]["product"]["breaker"] in ("open", "half_open"), ready

    harness.start_web(
        PRODUCT,
        port=port,
        migrate=False,
        JWT_JWKS_URL=f"{auth.url}/.well-known/jwks.json",
        **TIMERS,
    )
    # No one resets anything: past the breaker's reset timeout the next order is its trial call,
    # which closes it. Until then orders are refused fast, and none is written.
    placed = wait_for(
        lambda: call("POST", url, token, body)[0] == 201,
        timeout=30,
        interval=0.5,
        what="an order to be taken again",
    )
    assert placed
    assert harness.query(ORDER, "SELECT count(*) FROM orders_order") == [(2,)]
    status, ready = call("GET", f"{order.url}/readyz")
    assert status == 200 and ready["status"] == "ok" and ready["degraded"] == [], ready
