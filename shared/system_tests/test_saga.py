"""The order saga end to end on real processes, PostgreSQL, RabbitMQ and Redis: order_service
orchestrates, product_service prices, inventory_service reserves, payment_service charges."""

from __future__ import annotations

import uuid

import pytest
from platform_helpers import (
    AUTH,
    GATEWAY,
    INVENTORY,
    NO_THROTTLES,
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
    shell_with,
    stock,
)

from platform_tools.testing import backing
from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.client import call
from platform_tools.testing.processes import Harness, wait_for


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("saga"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        create_service_client(harness, *ORDER_CLIENT, ORDER_SCOPES, JWT_AUTO_KEY="1")
        keys = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json", **TIMERS}
        product = harness.start_web(PRODUCT, **keys)
        for service in (INVENTORY, PAYMENT):
            harness.start_worker(service, migrate=True, **keys)
        harness.start_worker(PRODUCT, **keys)
        # the reads of order_service's reconciliation go to these, direct
        inventory = harness.start_web(INVENTORY, migrate=False, **keys)
        payment = harness.start_web(PAYMENT, migrate=False, **keys)
        order_env = {
            **keys,
            "PRODUCT_SERVICE_URL": product.url,
            "AUTH_SERVICE_URL": auth.url,
            "INVENTORY_SERVICE_URL": inventory.url,
            "PAYMENT_SERVICE_URL": payment.url,
            "SERVICE_CLIENT_ID": ORDER_CLIENT[0],
            "SERVICE_CLIENT_SECRET": ORDER_CLIENT[1],
        }
        order = harness.start_web(ORDER, **order_env)
        harness.start_worker(ORDER, **order_env)
        gateway = harness.start_web(
            GATEWAY,
            wait=False,
            GATEWAY_THROTTLES=NO_THROTTLES,
            AUTH_SERVICE_URL=auth.url,
            PRODUCT_SERVICE_URL=product.url,
            ORDER_SERVICE_URL=order.url,
            **keys,
        )
        gateway.wait_http("/healthz")
        skus = {"SAGA-MUG": 5, "SAGA-TEE": 0, "SAGA-RUSH": 20}
        ids = {}
        for sku, stock in skus.items():
            ids[sku] = shell(
                harness,
                PRODUCT,
                "from decimal import Decimal\nfrom catalogue.services import product_create\n"
                f"print(product_create(sku='{sku}', name='{sku}', price=Decimal('12.50')).pk)",
            )
            # the SKU reaches inventory from product.created; then it gets its stock
            wait_for(
                lambda s=sku: harness.query(
                    INVENTORY, "SELECT 1 FROM stock_stockitem WHERE sku = ?", (s,)
                ),
                what=f"{sku} in inventory",
            )
            if stock:
                shell(
                    harness,
                    INVENTORY,
                    "from stock.models import StockItem\n"
                    f"print(StockItem.objects.filter(sku='{sku}').update(on_hand={stock}))",
                )
        yield {
            "harness": harness,
            "auth": auth,
            "order": order,
            "gateway": gateway,
            "ids": ids,
            "order_env": order_env,
        }
    finally:
        harness.cleanup()


def place(
    platform, sku: str, payment_token: str, quantity: int = 1, *, via: str = "order", token=None
) -> tuple[str, dict]:
    token = token or customer_token(platform["auth"])
    body = {
        "lines": [{"product_id": platform["ids"][sku], "quantity": quantity}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": payment_token,
    }
    status, order = call("POST", f"{platform[via].url}/api/v1/orders/", token, body)
    assert status == 201, order
    assert order["status"] == "PENDING" and order["total"] == f"{12.5 * quantity:.2f}"
    return token, order


def test_a_paid_order_through_the_gateway_is_confirmed_and_its_stock_committed(platform):
    before = stock(platform, "SAGA-MUG")
    token, order = place(platform, "SAGA-MUG", "tok_visa", quantity=2, via="gateway")
    done = settle(platform, token, order["id"], via="gateway")
    assert done["status"] == "CONFIRMED"
    assert [step["status"] for step in done["history"]] == [
        "PENDING",
        "PAYMENT_PENDING",
        "CONFIRMED",
    ]
    assert payments(platform, order["id"]) == [("SUCCEEDED", "25.00", "")]
    wait_for(
        lambda: stock(platform, "SAGA-MUG") == (before[0] - 2, before[1]),
        what="the stock committed",
    )
    # The card token lived only as long as the charge needed it: gone from the order and from
    # the published outbox row (kept for days), never in a dead letter.
    harness = platform["harness"]
    sql = "SELECT payment_token FROM orders_order WHERE id = ?"
    assert harness.query(ORDER, sql, (order["id"],)) == [("",)]
    kept = (
        "SELECT count(*) FROM service_kit_outboxmessage WHERE published_at IS NOT NULL"
        " AND envelope->'data'->>'order_id' = ? AND name = 'payment.charge'"
        " AND envelope->'data'->>'payment_token' = '[redacted]'"
    )
    wait_for(lambda: harness.query(ORDER, kept, (order["id"],)) == [(1,)], what="the row kept")
    for service in (ORDER, PAYMENT):
        for table in ("service_kit_outboxmessage", "service_kit_deadletter"):
            found = f"SELECT count(*) FROM {table} WHERE envelope::text LIKE ?"  # noqa: S608
            assert harness.query(service, found, ("%tok_visa%",)) == [(0,)], (service, table)


def test_a_declined_card_cancels_the_order_and_releases_its_stock(platform):
    before = stock(platform, "SAGA-MUG")
    token, order = place(platform, "SAGA-MUG", "tok_chargeDeclined")
    done = settle(platform, token, order["id"])
    assert done["status"] == "CANCELLED"
    assert payments(platform, order["id"]) == [("FAILED", "12.50", "card_declined")]
    wait_for(lambda: stock(platform, "SAGA-MUG") == before, what="the reservation released")


def test_short_stock_rejects_the_order_without_a_charge(platform):
    token, order = place(platform, "SAGA-TEE", "tok_visa")
    done = settle(platform, token, order["id"])
    assert done["status"] == "REJECTED"
    assert payments(platform, order["id"]) == []
    assert stock(platform, "SAGA-TEE") == (0, 0)


def test_a_payment_that_never_answers_fails_the_order_after_its_deadline(platform):
    before = stock(platform, "SAGA-MUG")
    token, order = place(platform, "SAGA-MUG", "tok_timeout")
    done = settle(platform, token, order["id"])
    assert done["status"] == "FAILED"
    assert [step["status"] for step in done["history"]][-1] == "FAILED"
    wait_for(lambda: stock(platform, "SAGA-MUG") == before, what="the reservation released")


def test_a_transient_processing_error_is_retried_and_confirmed_once(platform):
    token, order = place(platform, "SAGA-MUG", "tok_processingError")
    done = settle(platform, token, order["id"])
    assert done["status"] == "CONFIRMED"
    assert payments(platform, order["id"]) == [("SUCCEEDED", "12.50", "")]


def test_a_hundred_customers_rushing_twenty_units_never_oversell(platform):
    harness = platform["harness"]
    tokens = shell(
        harness,
        AUTH,
        "import json\nfrom accounts.models import User\nfrom accounts.tokens import token_pair\n"
        'users = [User.objects.create_user(f\'rush{i}-{__import__("uuid").uuid4().hex[:6]}'
        "@example.com', None) for i in range(100)]\n"
        "print(json.dumps([token_pair(u)['access'] for u in users]))",
    )
    import json
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=20) as pool:
        placed = list(
            pool.map(
                lambda token: place(platform, "SAGA-RUSH", "tok_visa", via="gateway", token=token),
                json.loads(tokens),
            )
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda p: settle(platform, p[0], p[1]["id"], timeout=240), placed))
    statuses = [order["status"] for order in done]
    assert (statuses.count("CONFIRMED"), statuses.count("REJECTED")) == (20, 80)
    captured = harness.query(
        PAYMENT,
        "SELECT count(*) FROM payments_payment "
        "WHERE status = 'SUCCEEDED' AND order_id::text = ANY(?)",
        ([order["id"] for order in done],),
    )
    assert captured == [(20,)]
    wait_for(lambda: stock(platform, "SAGA-RUSH") == (0, 0), what="20 units committed, none left")


# -- who may send what: the broker's permissions, then the consumer's check of the sender --------


def forged(message_type: str, producer: str, **data) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": message_type,
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "producer": producer,
        "request_id": None,
        "data": data,
    }


def send_as(url: str, task: str, message: dict, exchange, routing_key: str, **properties) -> None:
    """Publish one task message as the URL's broker user, confirmed (a refusal raises)."""
    from celery import Celery

    app = Celery("forger", broker=url)
    app.conf.broker_transport_options = {"confirm_publish": True}
    try:
        app.send_task(
            task,
            args=[message],
            task_id=message["id"],
            exchange=exchange,
            routing_key=routing_key,
            declare=[exchange] if exchange.name else [],
            retry=False,
            **properties,
        )
    finally:
        app.close()


def letters(platform, service, message_id: str) -> list[tuple]:
    """(reason, error) of the service's dead letters for a message, and whether its inbox ever
    recorded the message (a handler that ran would have)."""
    harness = platform["harness"]
    dead = harness.query(
        service,
        "SELECT reason, error, queue FROM service_kit_deadletter WHERE message_id = ?",
        (message_id,),
    )
    inbox = harness.query(
        service,
        "SELECT count(*) FROM service_kit_processedmessage WHERE message_id = ?",
        (message_id,),
    )
    return [*dead, *inbox]


@pytest.fixture(scope="module")
def paid(platform):
    """A confirmed order, its payment captured: what a forger would like to refund or fake."""
    token, order = place(platform, "SAGA-MUG", "tok_visa")
    assert settle(platform, token, order["id"])["status"] == "CONFIRMED"
    return token, order


def product_forgeries(order_id: str) -> list:
    from kombu import Exchange

    from service_kit.messaging.app import DOMAIN_COMMANDS, DOMAIN_EVENTS

    succeeded = {
        "order_id": order_id,
        "payment_id": str(uuid.uuid4()),
        "amount": "12.50",
        "currency": "EUR",
    }
    refund = {"order_id": order_id, "amount": "12.50", "reason": "forged"}
    default = Exchange("")
    return [
        # (a) another service's event on the events exchange
        pytest.param(
            "events.payment.succeeded",
            forged("payment.succeeded", "payment", **succeeded),
            DOMAIN_EVENTS,
            "payment.succeeded",
            {},
            id="event-it-does-not-own",
        ),
        # (b) a command it may not send, on the commands exchange
        pytest.param(
            "payment.refund",
            forged("payment.refund", "order", **refund),
            DOMAIN_COMMANDS,
            "payment.refund",
            {},
            id="command-it-may-not-send",
        ),
        # (c) the default exchange, straight to a queue by its name
        pytest.param(
            "payment.refund",
            forged("payment.refund", "order", **refund),
            default,
            "payment.refund",
            {},
            id="default-exchange-to-a-command-queue",
        ),
        pytest.param(
            "events.payment.succeeded",
            forged("payment.succeeded", "payment", **succeeded),
            default,
            "order.events",
            {},
            id="default-exchange-to-an-events-queue",
        ),
        # a retry into another service's queue (only that service writes its retry key)
        pytest.param(
            "events.payment.succeeded",
            forged("payment.succeeded", "payment", **succeeded),
            DOMAIN_COMMANDS,
            "retry.order.events",
            {},
            id="retry-into-another-queue",
        ),
        # (d) a forged user_id: RabbitMQ checks it against the connection's user
        pytest.param(
            "events.payment.succeeded",
            forged("payment.succeeded", "payment", **succeeded),
            DOMAIN_EVENTS,
            "payment.succeeded",
            {"user_id": "payment"},
            id="forged-user-id",
        ),
    ]


@pytest.mark.parametrize(
    ("task", "message", "exchange", "routing_key", "properties"),
    product_forgeries(str(uuid.UUID(int=1))),
)
def test_the_broker_refuses_what_product_service_may_not_send(
    platform, paid, task, message, exchange, routing_key, properties
):
    from amqp.exceptions import AccessRefused, PreconditionFailed

    token, order = paid
    message["data"]["order_id"] = order["id"]
    product = platform["harness"].broker_url_for(PRODUCT)  # with its production permissions

    with pytest.raises((AccessRefused, PreconditionFailed)):
        send_as(product, task, message, exchange, routing_key, **properties)

    assert (
        call("GET", f"{platform['order'].url}/api/v1/orders/{order['id']}/", token)[1]["status"]
        == "CONFIRMED"
    )
    assert payments(platform, order["id"]) == [("SUCCEEDED", "12.50", "")]
    for service in (ORDER, PAYMENT):
        assert letters(platform, service, message["id"]) == [(0,)]


def test_a_message_from_a_service_not_allowed_to_send_it_is_dead_lettered_unapplied(platform, paid):
    """Past the broker (a user granted too much, as guest is here): the consumer checks the
    sender the broker authenticated, whatever the envelope's ``producer`` says."""
    from service_kit.messaging.app import DOMAIN_COMMANDS, DOMAIN_EVENTS

    token, order = paid
    anyone = platform["harness"].broker_url  # the vhost's administrator: every permission
    succeeded = forged(
        "payment.succeeded",
        "payment",
        order_id=order["id"],
        payment_id=str(uuid.uuid4()),
        amount="12.50",
        currency="EUR",
    )
    refund = forged("payment.refund", "order", order_id=order["id"], reason="forged")
    retried = forged(
        "payment.failed",
        "payment",
        order_id=order["id"],
        payment_id=str(uuid.uuid4()),
        failure_code="card_declined",
    )
    sends = [
        (ORDER, "events.payment.succeeded", succeeded, DOMAIN_EVENTS, "payment.succeeded"),
        (PAYMENT, "payment.refund", refund, DOMAIN_COMMANDS, "payment.refund"),
        (ORDER, "events.payment.failed", retried, DOMAIN_COMMANDS, "retry.order.events"),
    ]
    for _, task, message, exchange, key in sends:
        send_as(anyone, task, message, exchange, key, user_id="guest")
    # a service's own user, an event it owns, another's name as producer
    impostor = forged(
        "product.created",
        "payment",
        product_id=str(uuid.uuid4()),
        sku="SAGA-FORGED",
        name="forged",
        price="1.00",
        currency="EUR",
        is_active=True,
    )
    product = platform["harness"].broker_url_for(PRODUCT)
    send_as(
        product,
        "events.product.created",
        impostor,
        DOMAIN_EVENTS,
        "product.created",
        user_id="product",
    )

    expected = {
        succeeded["id"]: (ORDER, "producer 'payment' is not the sender 'guest'", "order.events"),
        refund["id"]: (PAYMENT, "producer 'order' is not the sender 'guest'", "payment.refund"),
        retried["id"]: (
            ORDER,
            "payment.failed sent by 'guest', allowed only from order",
            "order.events",
        ),
        impostor["id"]: (
            INVENTORY,
            "producer 'payment' is not the sender 'product'",
            "inventory.events",
        ),
    }
    for message_id, (service, error, queue) in expected.items():
        assert wait_for(
            lambda s=service, m=message_id: letters(platform, s, m)[:-1],
            what=f"{service.name} to refuse {message_id}",
        ) == [("forbidden_sender", error, queue)]
        assert letters(platform, service, message_id)[-1] == (0,)  # never applied
    assert (
        call("GET", f"{platform['order'].url}/api/v1/orders/{order['id']}/", token)[1]["status"]
        == "CONFIRMED"
    )
    assert payments(platform, order["id"]) == [("SUCCEEDED", "12.50", "")]
    assert platform["harness"].query(
        INVENTORY,
        "SELECT count(*) FROM stock_stockitem WHERE sku = ?",
        ("SAGA-FORGED",),
    ) == [(0,)]


def test_the_reconciliation_finds_no_mismatch_across_the_modules_orders(platform):
    """After every order above settled: each final order agrees with its payment (read from
    payment_service with order's service token, scope payments:read) and its reservation
    (inventory_service, inventory:read); no step may be in flight (grace 0)."""
    import json

    answer = json.loads(
        shell_with(
            platform["harness"],
            ORDER,
            "import json\n"
            "from orders.models import Order, ReconciliationMismatch\n"
            "from orders.reconciliation import FINAL, reconcile_orders\n"
            "report = reconcile_orders(window=3600, grace=0)\n"
            "print(json.dumps({'checked': report.checked, 'found': report.found,\n"
            "    'open': list(ReconciliationMismatch.objects.values_list('kind', flat=True)),\n"
            "    'orders': Order.objects.count(),\n"
            "    'final': Order.objects.filter(status__in=FINAL).count()}))",
            **platform["order_env"],
        )
    )
    assert answer["found"] == [] and answer["open"] == [], answer
    assert answer["orders"] == answer["final"] == answer["checked"] > 0, answer
