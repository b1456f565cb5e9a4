"""What the system tests do to a platform of real processes: start the order saga's services,
sign a customer in, place and settle orders, and read each service's own tables.

The tests import these from here; no test module imports another.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from platform_tools import release
from platform_tools.testing import backing
from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.client import call, post_json
from platform_tools.testing.processes import Harness, wait_for
from service_kit.conf import REPO_ROOT
from service_kit.platform import BY_NAME

AUTH, USER, PRODUCT, INVENTORY, ORDER, PAYMENT, GATEWAY = (
    BY_NAME[name]
    for name in ("auth", "user", "product", "inventory", "order", "payment", "gateway")
)
PASSWORD = "Correct-Horse-Battery-9"

NO_THROTTLES = "user=100000000/min,anon=100000000/min,auth=100000000/min,admin=100000000/min"


FINAL = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}


TIMERS = {
    "ORDER_RESERVE_DEADLINE": "15",
    "ORDER_PAYMENT_DEADLINE": "3",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "60",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}


#: The saga's timers for fault tests: deadlines far beyond what a loaded machine needs for a step
#: (plus, in the fault tests, a worker's restart), so an order that fails was lost, not late.
PATIENT_TIMERS = {
    "ORDER_RESERVE_DEADLINE": "40",
    "ORDER_PAYMENT_DEADLINE": "40",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "120",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}


#: order_service's service identity (auth_service's client credentials): it reads prices from
#: product_service, and payments and reservations for the reconciliation.
ORDER_CLIENT = ("order", "saga-order-client-secret-0123456789")


ORDER_SCOPES = ("payments:read", "inventory:read", "products:read")


def create_service_client(harness, client_id: str, secret: str, scopes, **env: str) -> None:
    harness.manage(
        AUTH, "create_service_client", client_id, "--secret", secret, "--scopes", *scopes, **env
    )


def shell_with(harness, service, code: str, **env: str) -> str:
    """``manage.py shell -c code`` with the environment the service's processes were started
    with (the saga's short timers, and ``env``): the last line it printed."""
    return harness.manage(
        service, "shell", "-c", code, timeout=300, **{**TIMERS, **env}
    ).splitlines()[-1]


def shell(harness, service, code: str) -> str:
    return shell_with(harness, service, code)


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


def settle(platform, token: str, order_id: str, timeout: float = 45, via: str = "order") -> dict:
    url = f"{platform[via].url}/api/v1/orders/{order_id}/"
    return wait_for(
        lambda: (r := call("GET", url, token))[1]["status"] in FINAL and r[1],
        timeout=timeout,
        what=f"order {order_id} to settle",
    )


def stock(platform, sku: str) -> tuple[int, int]:
    return platform["harness"].query(
        INVENTORY,
        "SELECT on_hand, reserved FROM stock_stockitem WHERE sku = ?",
        (sku,),
    )[0]


def payments(platform, order_id: str) -> list[tuple]:
    return platform["harness"].query(
        PAYMENT,
        "SELECT status, amount::text, failure_code FROM payments_payment WHERE order_id = ?",
        (order_id,),
    )


def start_saga(
    harness: Harness,
    skus: dict[str, int],
    timers: dict[str, str] | None = None,
    **service_env: dict[str, str],
) -> dict:
    """The services of the order saga as real processes (no gateway): auth and product web,
    the inventory, payment and product workers, order web and worker; each SKU created in the
    catalogue, followed by inventory, and given its stock. ``timers`` replace the usual
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
            lambda s=sku: harness.query(
                INVENTORY, "SELECT 1 FROM stock_stockitem WHERE sku = ?", (s,)
            ),
            timeout=60,
            what=f"{sku} in inventory",
        )
        harness.execute(
            INVENTORY, "UPDATE stock_stockitem SET on_hand = ? WHERE sku = ?", (units, sku)
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
        "shipping_address": SHIPPING_ADDRESS,
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
    return platform["harness"].query(
        ORDER,
        "SELECT from_status, to_status FROM orders_ordertransition "
        "WHERE order_id = ? ORDER BY at, id",
        (order_id,),
    )


def outbox(platform, service, order_id: str) -> dict[str, int]:
    """How many messages about the order ``service`` published, by routing key."""
    rows = platform["harness"].query(
        service,
        "SELECT routing_key, count(*) FROM service_kit_outboxmessage "
        "WHERE envelope->'data'->>'order_id' = ? GROUP BY routing_key",
        (order_id,),
    )
    return dict(rows)


def reservations(platform, order_id: str) -> list[tuple]:
    return platform["harness"].query(
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


def assert_each_done_once(platform, sku: str, placed, before, timeout: float = 120) -> None:
    """Every order CONFIRMED, one transition per step, one reservation committed, one payment
    and one capture, each command and outcome sent once; the stock down by exactly the orders."""
    for token, order in placed:
        done = settle(platform, token, order["id"], timeout=timeout)
        assert done["status"] == "CONFIRMED", done["history"]
    wait_for(
        lambda: stock(platform, sku) == (before[0] - len(placed), before[1]),
        timeout=60,
        what="each order's unit committed, once",
    )
    for _, order in placed:
        order_id = order["id"]
        assert history(platform, order_id) == [
            ("", "PENDING"),
            ("PENDING", "PAYMENT_PENDING"),
            ("PAYMENT_PENDING", "CONFIRMED"),
        ]
        assert reservations(platform, order_id) == [("COMMITTED", [{"sku": sku, "quantity": 1}])]
        assert payments(platform, order_id) == [("SUCCEEDED", "12.50", "")]
        assert outbox(platform, ORDER, order_id) == {
            "order.created": 1,
            "inventory.reserve": 1,
            "payment.charge": 1,
            "inventory.commit": 1,
            "order.confirmed": 1,
        }
        assert outbox(platform, INVENTORY, order_id) == {
            "inventory.reserved": 1,
            "inventory.committed": 1,
        }
        assert outbox(platform, PAYMENT, order_id) == {"payment.succeeded": 1}
    assert captures(platform, *(order["id"] for _, order in placed)) == [1] * len(placed)


#: The names of a whole platform's services, in the order of its block of ports.
PLATFORM_NAMES = ("gateway", "auth", "user", "product", "inventory", "order", "payment")


def free_block(start: int = 21000, size: int = len(PLATFORM_NAMES)) -> int:
    """The first port of ``size`` free ports in a row on loopback, from ``start`` in steps of 50
    (a ``PLATFORM_PORT_BASE`` for a platform of its own)."""
    for base in range(start, 40000, 50):
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free block of ports")


def platform_env(**extra: str) -> dict[str, str]:
    """This process's environment without what points it at the test run's own databases, broker,
    data folder, ports and make, plus ``extra``: for ``make up`` as a user runs it."""
    dropped = (
        "DATABASE_URL",
        "CACHE_URL",
        "CACHE_KEY_PREFIX",
        "CELERY_BROKER_URL",
        "PROMETHEUS_MULTIPROC_DIR",
        "DJANGO_SETTINGS_MODULE",
        "PLATFORM_DATA_DIR",
        "PLATFORM_PORT_BASE",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
    )
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


# -- the previous release, beside this one -------------------------------------------------------
def previous_tag() -> str:
    """The newest release (a tag, or a row of the releases ledger) that is not the commit under
    test."""
    head = _git("rev-parse", "HEAD")
    known = release.releases()
    for version in sorted(known, key=release.version_key, reverse=True):
        if known[version] != head:
            return version
    raise LookupError("no earlier release (a v* tag or a row of docs/releases.md) in this clone")


def previous_release(cache: Path, tag: str) -> tuple[Path, dict[str, str]]:
    """The release ``tag`` as a folder (``git archive``, kept under ``cache`` by its commit) and
    the environment its processes need: this venv with the release's own ``shared`` first on the
    path when every runtime pin of the release is one this venv has, else a venv of its own
    (made once per commit)."""
    commit = release.release_commit(tag)
    root = cache / f"release-{commit[:12]}"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        archive = subprocess.run(  # noqa: S603 - git, argv built here
            ["git", "archive", "--format=tar", commit],  # noqa: S607 - git on PATH
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        (root / ".complete").write_text(commit)
    env = {"PYTHONPATH": str(root / "shared")}
    if not _pins(root / "requirements" / "base.txt") <= _pins(
        REPO_ROOT / "requirements" / "base.txt"
    ):
        venv = root / ".venv"
        if not (venv / ".complete").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, "-r", str(root / "requirements" / "base.txt")], check=True)  # noqa: S603
            (venv / ".complete").write_text(commit)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
        env["VIRTUAL_ENV"] = str(venv)
    return root, env


def _pins(requirements: Path) -> set[str]:
    """The ``name==version`` lines of a requirements file, extras aside (a pin that gains an
    extra still installs what it did), ``-r`` includes aside."""
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    return {
        re.sub(r"\[.*?\]", "", line).lower() for line in lines if line and not line.startswith("-")
    }


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - git, argv built here
        ["git", *args],  # noqa: S607 - git on PATH
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
