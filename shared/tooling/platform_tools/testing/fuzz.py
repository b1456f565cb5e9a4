"""Hostile-input tests against the whole platform on real processes.

    with running_platform(tmp_path) as platform:
        ada = platform.customer()                     # registered, signed in, with a profile
        platform.call("GET", "gateway", "/api/v1/orders/", token=ada.access)

Every service's web process, each worker and the gateway run on this run's own PostgreSQL
databases, RabbitMQ vhost and Redis prefix (the harness), with tokens issued by the real
auth_service. The catalogue holds :data:`PRODUCTS`, each with stock, so that orders can be placed
and the saga can take payments. Throttles and the sign-in guard are opened wide: these tests send
many requests from one address on purpose, and a 429 would hide what they look for.

Its databases (``hostile_<service>``) and cache keys (under the folder's name) are its own, apart
from other whole-platform tests of the same run; the run's vhost is shared, so one platform runs
at a time (a module-scoped fixture each).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_tools.testing.api import SHIPPING_ADDRESS as ADDRESS
from service_kit.platform import BY_NAME, Service

from . import backing
from .processes import Harness, Proc, wait_for

#: Every project with an API of its own, in the order they start (auth first: its JWKS).
API_SERVICES = ("auth", "user", "product", "inventory", "order", "payment")
PASSWORD = "Hostile-Input-Battery-9"
#: Budgets that no test here reaches (the throttles themselves are tested in the gateway's suite).
NO_THROTTLES = "user=100000000/min,anon=100000000/min,auth=100000000/min,admin=100000000/min"
#: A service identity allowed everything a service may do, for the service-only endpoints.
SERVICE_CLIENT = ("hostile", "hostile-input-client-secret-0123456789")
SERVICE_SCOPES = (
    "payments:charge",
    "payments:read",
    "inventory:read",
    "products:read",
    "users:read",
    "accounts:read",
)
#: order_service's own identity (it reads prices, payments and reservations). Here every service
#: signs in as this one identity: user_service's account reads (``accounts:read``) too.
ORDER_CLIENT = ("order", "hostile-order-client-secret-0123456789")
ORDER_SCOPES = ("payments:read", "inventory:read", "products:read", "accounts:read")
#: sku → (price, stock)
PRODUCTS = {"HOSTILE-MUG": ("12.50", 1000), "HOSTILE-LAMP": ("40.00", 1000)}


class _Harness(Harness):
    """The kit's harness with databases of their own names (see the module's docstring)."""

    def database_for(self, service: Service) -> str:
        key = f"hostile_{service.name}"
        if key not in self._databases:
            self._databases[key] = backing.create_database(key)
        return self._databases[key]

    def stop_all(self) -> None:
        # Every process is told at once, then awaited: a dozen warm shutdowns in parallel.
        for proc in self.procs:
            proc.signal(signal.SIGTERM)
        for proc in self.procs:
            proc.stop()
        self.procs.clear()


@dataclass
class Account:
    id: str
    email: str
    access: str
    refresh: str


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    def __repr__(self) -> str:
        return f"Answer({self.status}, {json.dumps(self.body)[:300] if self.body else ''})"


class Platform:
    def __init__(self, harness: Harness, procs: dict[str, Proc], env: dict[str, str]):
        self.harness = harness
        self.procs = procs
        self.env = env  # what every process was started with
        self.products: dict[str, str] = {}  # sku → product id

    def url(self, name: str) -> str:
        return self.procs[name].url

    # -- HTTP ------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        via: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        """``method path`` on ``via`` (a service's name, or ``gateway``), JSON in and out."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url(via) + path, data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, got, content = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, got, content = error.code, error.headers, error.read()
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = content.decode(errors="replace")
        return Answer(status, dict(got.items()), parsed)

    # -- identities ------------------------------------------------------------------------
    def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        answer = self.call(
            "POST", "auth", "/api/v1/auth/token/", body={"email": email, "password": password}
        )
        assert answer.status == 200, answer
        return answer.body

    def customer(self, *, profile: bool = True, **fields: Any) -> Account:
        """A new customer, signed in; with ``profile``, once user_service has made the profile
        (from ``user.registered``)."""
        email = f"c-{uuid.uuid4().hex[:10]}@example.com"
        answer = self.call(
            "POST",
            "auth",
            "/api/v1/auth/register/",
            body={"email": email, "password": PASSWORD, **fields},
        )
        assert answer.status == 201, answer
        pair = self.sign_in(email)
        account = Account(answer.body["id"], email, pair["access"], pair["refresh"])
        if profile:
            wait_for(
                lambda: (
                    self.call("GET", "user", "/api/v1/users/me/", token=account.access).status
                    == 200
                ),
                timeout=60,
                what=f"the profile of {email}",
            )
        return account

    def staff(self, *roles: str, superuser: bool = False) -> Account:
        """A staff member with ``roles`` (``superuser``: the ``admin`` role), signed in."""
        email = f"s-{uuid.uuid4().hex[:10]}@example.com"
        user_id = self.shell(
            "auth",
            "from django.contrib.auth.models import Group\n"
            "from accounts.models import User\n"
            f"user = User.objects.create_user({email!r}, {PASSWORD!r}, is_staff=True, "
            f"is_superuser={superuser!r})\n"
            f"user.groups.add(*Group.objects.filter(name__in={list(roles)!r}))\n"
            "print(user.pk)",
        )
        pair = self.sign_in(email)
        return Account(user_id, email, pair["access"], pair["refresh"])

    def service_token(self, client: tuple[str, str] = SERVICE_CLIENT) -> str:
        answer = self.call(
            "POST",
            "auth",
            "/api/v1/auth/service-token/",
            body={"client_id": client[0], "client_secret": client[1]},
        )
        assert answer.status == 200, answer
        return answer.body["access"]

    # -- business --------------------------------------------------------------------------
    def place_order(self, account: Account, *, via: str = "order", quantity: int = 1) -> dict:
        body = {
            "lines": [{"product_id": self.products["HOSTILE-MUG"], "quantity": quantity}],
            "shipping_address": ADDRESS,
            "payment_token": "tok_visa",
        }
        answer = self.call("POST", via, "/api/v1/orders/", token=account.access, body=body)
        assert answer.status == 201, answer
        return answer.body

    def settled_order(self, account: Account, order_id: str, timeout: float = 60) -> dict:
        final = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}

        def settled():
            answer = self.call("GET", "order", f"/api/v1/orders/{order_id}/", token=account.access)
            return answer.body["status"] in final and answer.body

        return wait_for(settled, timeout=timeout, what=f"order {order_id} to settle")

    # -- processes -------------------------------------------------------------------------
    def shell(self, name: str, code: str) -> str:
        """``manage.py shell -c code`` in ``name``'s environment; its last printed line."""
        service = BY_NAME[name]
        result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=service.path,
            env=self.harness.env_for(service, **self.env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip().splitlines()[-1]

    def query(self, name: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from one service's own database, read as an outsider would."""
        import psycopg

        url = self.harness.database_for(BY_NAME[name])
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


def _create_service_client(harness: Harness, env: dict, client: tuple[str, str], scopes) -> None:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [
            sys.executable,
            "manage.py",
            "create_service_client",
            client[0],
            "--secret",
            client[1],
            "--scopes",
            *scopes,
        ],
        cwd=BY_NAME["auth"].path,
        env=harness.env_for(BY_NAME["auth"], **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@contextlib.contextmanager
def running_platform(folder: Path, *, workers: bool = True) -> Iterator[Platform]:
    """Every service (web and, with ``workers``, worker) and the gateway, seeded; stopped and
    their databases dropped on exit."""
    backing.require("postgres", "rabbitmq", "redis")
    harness = _Harness(Path(folder), profile="real", broker_url=backing.create_vhost())
    # The harness's ports: each held (bound, not listening) until its process starts, so no
    # other program, nor a parallel suite's free_port(), takes it during the migrations.
    ports = {name: harness.port_for(name) for name in ("gateway", *API_SERVICES)}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **{f"{name.upper()}_SERVICE_URL": url for name, url in urls.items()},
        "JWT_JWKS_URL": f"http://127.0.0.1:{ports['auth']}/.well-known/jwks.json",
        "JWT_AUTO_KEY": "1",
        # Cache keys of their own (breaker states, revocations, throttles, cached reads), yet
        # under this run's prefix, which the run's end removes.
        "CACHE_KEY_PREFIX": f"{Path(folder).name}_{backing.cache_prefix()}",
        # Tokens outlive a long run (a deeper fuzzing run takes longer than the default 5 min).
        "JWT_ACCESS_TOKEN_LIFETIME": "3600",
        "JWT_SERVICE_TOKEN_LIFETIME": "3600",
        "GATEWAY_THROTTLES": NO_THROTTLES,
        "LOGIN_GUARD_ACCOUNT_FAILURES": "1000000",
        "LOGIN_GUARD_ADDRESS_FAILURES": "1000000",
        "SERVICE_CLIENT_ID": ORDER_CLIENT[0],
        "SERVICE_CLIENT_SECRET": ORDER_CLIENT[1],
    }
    procs: dict[str, Proc] = {}
    try:
        services = [BY_NAME[name] for name in ("gateway", *API_SERVICES)]
        for service in services:
            harness.database_for(service)
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: harness.migrate(service, **env), services))
        for service in services:
            procs[service.name] = harness.start_web(service, wait=False, migrate=False, **env)
        started = []
        if workers:
            started = [
                harness.start_worker(BY_NAME[name], wait=False, **env) for name in API_SERVICES
            ]
        _create_service_client(harness, env, ORDER_CLIENT, ORDER_SCOPES)
        _create_service_client(harness, env, SERVICE_CLIENT, SERVICE_SCOPES)
        for proc in procs.values():
            proc.wait_http("/healthz", timeout=120)
        for proc in started:
            proc.wait_log(" ready.", timeout=120)
        platform = Platform(harness, procs, env)
        _seed_catalogue(platform, workers=workers)
        yield platform
    finally:
        harness.cleanup()


def _seed_catalogue(platform: Platform, *, workers: bool) -> None:
    prices = {sku: price for sku, (price, _) in PRODUCTS.items()}
    made = platform.shell(
        "product",
        "import json\nfrom decimal import Decimal\nfrom catalogue.services import product_create\n"
        f"made = {{sku: str(product_create(sku=sku, name=sku, price=Decimal(price)).pk)"
        f" for sku, price in {prices!r}.items()}}\n"
        "print(json.dumps(made))",
    )
    platform.products.update(json.loads(made))
    if not workers:
        return
    # Each SKU reaches inventory from product.created; then it gets its stock.
    skus = list(PRODUCTS)
    count = "SELECT count(*) FROM stock_stockitem WHERE sku = ANY(%s)"
    wait_for(
        lambda: platform.query("inventory", count, (skus,))[0][0] == len(skus),
        timeout=60,
        what="the catalogue's SKUs in inventory",
    )
    for sku, (_, stock) in PRODUCTS.items():
        platform.query(
            "inventory", "UPDATE stock_stockitem SET on_hand = %s WHERE sku = %s", (stock, sku)
        )
