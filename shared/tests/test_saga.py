"""The order saga end to end on real processes, PostgreSQL, RabbitMQ and Redis: order_service
orchestrates, product_service prices, inventory_service reserves, payment_service charges."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from conftest import post_json, query, wait_for
from test_identity_flow import PASSWORD, call

from service_kit.platform import BY_NAME
from service_kit.testing import backing
from service_kit.testing.api import SHIPPING_ADDRESS
from service_kit.testing.processes import Harness

AUTH, PRODUCT, INVENTORY, ORDER, PAYMENT, GATEWAY = (
    BY_NAME[name] for name in ("auth", "product", "inventory", "order", "payment", "gateway")
)
NO_THROTTLES = "user=100000000/min,anon=100000000/min,auth=100000000/min,admin=100000000/min"
FINAL = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}
TIMERS = {
    "ORDER_RESERVE_DEADLINE": "15",
    "ORDER_PAYMENT_DEADLINE": "3",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "60",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}


#: order_service's service identity (auth_service's client credentials): it reads prices from
#: product_service, and payments and reservations for the reconciliation.
ORDER_CLIENT = ("order", "saga-order-client-secret-0123456789")
ORDER_SCOPES = ("payments:read", "inventory:read", "products:read")


def create_service_client(harness, client_id: str, secret: str, scopes, **env: str) -> None:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [
            sys.executable,
            "manage.py",
            "create_service_client",
            client_id,
            "--secret",
            secret,
            "--scopes",
            *scopes,
        ],
        cwd=AUTH.path,
        env=harness.env_for(AUTH, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def shell_with(harness, service, code: str, **env: str) -> str:
    """``shell``, with the environment the service's processes were started with."""
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=harness.env_for(service, **{**TIMERS, **env}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def shell(harness, service, code: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=harness.env_for(service, **TIMERS),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


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
                lambda s=sku: query(
                    harness, INVENTORY, "SELECT 1 FROM stock_stockitem WHERE sku = ?", (s,)
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


def customer_token(auth) -> str:
    email = f"saga-{uuid.uuid4().hex[:8]}@example.com"
    status, _, _ = post_json(
        f"{auth.url}/api/v1/auth/register/", {"email": email, "password": PASSWORD}
    )
    assert status == 201
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200
    return pair["access"]


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


def settle(platform, token: str, order_id: str, timeout: float = 45, via: str = "order") -> dict:
    url = f"{platform[via].url}/api/v1/orders/{order_id}/"
    return wait_for(
        lambda: (r := call("GET", url, token))[1]["status"] in FINAL and r[1],
        timeout=timeout,
        what=f"order {order_id} to settle",
    )


def stock(platform, sku: str) -> tuple[int, int]:
    return query(
        platform["harness"],
        INVENTORY,
        "SELECT on_hand, reserved FROM stock_stockitem WHERE sku = ?",
        (sku,),
    )[0]


def payments(platform, order_id: str) -> list[tuple]:
    return query(
        platform["harness"],
        PAYMENT,
        "SELECT status, amount::text, failure_code FROM payments_payment WHERE order_id = ?",
        (order_id,),
    )


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
    assert query(harness, ORDER, sql, (order["id"],)) == [("",)]
    kept = (
        "SELECT count(*) FROM service_kit_outboxmessage WHERE published_at IS NOT NULL"
        " AND envelope->'data'->>'order_id' = ? AND name = 'payment.charge'"
        " AND envelope->'data'->>'payment_token' = '[redacted]'"
    )
    wait_for(lambda: query(harness, ORDER, kept, (order["id"],)) == [(1,)], what="the row kept")
    for service in (ORDER, PAYMENT):
        for table in ("service_kit_outboxmessage", "service_kit_deadletter"):
            found = f"SELECT count(*) FROM {table} WHERE envelope::text LIKE ?"  # noqa: S608
            assert query(harness, service, found, ("%tok_visa%",)) == [(0,)], (service, table)


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
    captured = query(
        harness,
        PAYMENT,
        "SELECT count(*) FROM payments_payment "
        "WHERE status = 'SUCCEEDED' AND order_id::text = ANY(?)",
        ([order["id"] for order in done],),
    )
    assert captured == [(20,)]
    wait_for(lambda: stock(platform, "SAGA-RUSH") == (0, 0), what="20 units committed, none left")


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
