"""Through the real broker, between real processes (harness, profile "real"): a product created in
product_service appears in inventory, and the saga's commands are answered on the exchange."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest
from celery import Celery
from kombu import Connection, Queue

from platform_tools.testing.processes import wait_for
from service_kit.messaging import DOMAIN_COMMANDS, DOMAIN_EVENTS
from service_kit.platform import BY_NAME

PRODUCT, INVENTORY, ORDER = BY_NAME["product"], BY_NAME["inventory"], BY_NAME["order"]

#: Run in product_service's shell: its own create service (the catalogue's write path).
CREATE_PRODUCT = """
from decimal import Decimal
from catalogue.services import product_create
from service_kit.messaging import relay
product = product_create(sku="{sku}", name="Blue mug", price=Decimal("12.50"))
relay.flush()
print("created", product.pk)
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from platform_tools.testing import backing
    from platform_tools.testing.processes import Harness

    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("inventory-e2e"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        harness.migrate(PRODUCT)
        harness.start_worker(PRODUCT)  # its beat sweeps anything the relay did not send
        worker = harness.start_worker(INVENTORY, migrate=True)
        yield {"harness": harness, "worker": worker}
    finally:
        harness.cleanup()


def query(harness, service, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(harness.database_for(service), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def shell(harness, service, code: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=harness.env_for(service),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_product_created_in_product_service_appears_in_inventory(platform):
    harness = platform["harness"]
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"

    output = shell(harness, PRODUCT, CREATE_PRODUCT.format(sku=sku))
    product_id = output.split("created ")[1].split()[0]

    rows = wait_for(
        lambda: query(
            harness,
            INVENTORY,
            "SELECT sku, product_id::text, on_hand, reserved, deactivated_at "
            "FROM stock_stockitem WHERE sku = %s",
            (sku,),
        ),
        what="the SKU in inventory",
    )
    assert rows == [(sku, product_id, 0, 0, None)]


def test_a_reserve_command_on_its_queue_is_answered_on_the_exchange(platform):
    harness, broker = platform["harness"], platform["harness"].broker_url
    query(
        harness,
        INVENTORY,
        "INSERT INTO stock_stockitem (sku, on_hand, reserved, low_stock_threshold, updated_at) "
        "VALUES ('E2E-RESERVE', 5, 0, 0, now())",
    )
    order_id = str(uuid.uuid4())
    answers = Queue(
        f"test-answers-{uuid.uuid4().hex[:8]}",
        exchange=DOMAIN_EVENTS,
        routing_key="inventory.*",
        auto_delete=True,
    )
    with Connection(broker) as conn:
        answers(conn.default_channel).declare()
        message = {
            "id": str(uuid.uuid4()),
            "type": "inventory.reserve",
            "version": 1,
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "producer": "order",
            "request_id": None,
            "data": {"order_id": order_id, "lines": [{"sku": "E2E-RESERVE", "quantity": 2}]},
        }
        # as order_service sends it: its own broker user, through the commands exchange
        producer = Celery("test-order", broker=harness.broker_url_for(ORDER))
        producer.send_task(
            "inventory.reserve",
            args=[message],
            task_id=message["id"],
            exchange=DOMAIN_COMMANDS,
            routing_key="inventory.reserve",
            declare=[DOMAIN_COMMANDS],
            user_id="order",
        )

        received = wait_for(
            lambda: answers(conn.default_channel).get(no_ack=True), what="an answer"
        )

    envelope = received.payload[0][0]  # a Celery task message: (args, kwargs, embed)
    assert (envelope["type"], envelope["producer"]) == ("inventory.reserved", "inventory")
    assert envelope["data"]["order_id"] == order_id
    assert envelope["data"]["lines"] == [{"sku": "E2E-RESERVE", "quantity": 2}]
    assert query(
        harness, INVENTORY, "SELECT reserved FROM stock_stockitem WHERE sku = 'E2E-RESERVE'"
    ) == [(2,)]
