"""``make e2e``: the whole platform booted once for the session (platform_tools.testing.stack), on
PostgreSQL, RabbitMQ and Redis, with an S3 server and Prometheus; customers and staff use it
through the gateway. Only the card network is not real (payment_service's sandbox provider).

Screenshots and, after the run, the processes' logs are kept under ``reports/e2e/``.
"""

from __future__ import annotations

import base64
import shutil
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django_otp.oath import hotp

from platform_tools.testing.api import SHIPPING_ADDRESS as ADDRESS
from platform_tools.testing.processes import wait_for
from platform_tools.testing.stack import Stack
from service_kit.conf import REPO_ROOT

ARTIFACTS = REPO_ROOT / "reports" / "e2e"
PASSWORD = "Correct-Horse-Battery-9"
FINAL = {"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"}
#: Staff, made in auth_service like ``createsuperuser`` makes an admin: the merchandiser looks
#: after the catalogue and the stock; finance refunds, so signs in with a one-time code.
MERCHANDISER = ("merch@example.com", ("catalogue_manager", "inventory_manager"))
FINANCE = ("finance@example.com", ("order_manager", "payment_manager"))
#: The catalogue the customers browse: category slug → [(sku, name, price, stock)].
CATALOGUE = {
    "mugs": [("E2E-MUG-1", "Blue mug", "12.50", 20), ("E2E-MUG-2", "Big mug", "30.00", 20)],
    "tees": [("E2E-TEE-1", "Plain tee", "20.00", 20)],
}
#: Run in this order: the secrets check reads what the journeys wrote (every process's log, every
#: API answer); the monitoring test stops a service, so it comes last. The rolling restart runs a
#: platform of its own (two instances of everything), after the session's.
FILES = (
    "test_customer_journey.py",
    "test_generated_client.py",
    "test_staff_journey.py",
    "test_staff_sso.py",
    "test_staff_front_page.py",
    "test_accessibility.py",
    "test_secrets_never_shown.py",
    "test_monitoring.py",
    "test_rolling_restart.py",
)
#: Every API answer of the run, as (method, path, status, body), for the secrets check.
ANSWERS: list[tuple[str, str, int, str]] = []


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: FILES.index(item.path.name) if item.path.name in FILES else 0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Fixtures may ask whether their test failed (the browser then keeps the page it was on)."""
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report


@dataclass
class Api:
    """A client of the platform's API, through the gateway, as one caller (or anonymous)."""

    base: str
    token: str | None = None

    def call(self, method: str, path: str, body=None, **kwargs) -> tuple[int, object]:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = requests.request(
            method, self.base + path, json=body, headers=headers, timeout=20, **kwargs
        )
        ANSWERS.append((method, path, response.status_code, response.text))
        content_type = response.headers.get("Content-Type", "")
        data = response.json() if content_type.startswith("application/json") else response.text
        return response.status_code, data

    def get(self, path: str, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.call("POST", path, body, **kwargs)

    def ok(self, method: str, path: str, body=None, expect: int = 200, **kwargs):
        status, data = self.call(method, path, body, **kwargs)
        assert status == expect, (method, path, status, data)
        return data


def sign_in(gateway: str, email: str, otp: str = "", password: str = PASSWORD) -> dict:
    """``POST /api/v1/auth/token/`` through the gateway: the token pair."""
    body = {"email": email, "password": password, **({"otp": otp} if otp else {})}
    return Api(gateway).ok("POST", "/api/v1/auth/token/", body)


class Authenticator:
    """A staff member's authenticator app: codes for the device's key (the ``otpauth://`` URI
    auth_service printed), each time step used once; the device accepts one step ahead at most."""

    def __init__(self, uri: str):
        assert uri.startswith("otpauth://totp/"), uri
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.last_step = -1

    def code(self) -> str:
        step = max(int(time.time()) // 30, self.last_step + 1)
        wait_for(  # the device accepts one step ahead at most: until the clock gets there
            lambda: step <= int(time.time()) // 30 + 1,
            31,
            interval=0.2,
            what="the authenticator's next time step",
        )
        self.last_step = step
        return f"{hotp(self.key, step):06d}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    # ServiceDown waits a minute in the rule file; the copy Prometheus loads here waits 5 s so the
    # test of the alert stays short. Its expression is the file's.
    # The order deadline task does not run here, so the front page's stuck order stays stuck (the
    # task itself is system-tested).
    platform = Stack(
        tmp_path_factory.mktemp("platform"),
        alert_for={"ServiceDown": "5s"},
        env={"ORDER_DEADLINE_CHECK_INTERVAL": "3600"},
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        logs = ARTIFACTS / "logs"
        shutil.rmtree(logs, ignore_errors=True)
        if (platform.folder / "logs").exists():
            shutil.copytree(platform.folder / "logs", logs)


@pytest.fixture(scope="session")
def gateway(stack) -> str:
    return stack.gateway.url


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


MAKE_STAFF = """
from django.contrib.auth.models import Group
from accounts.models import User

for email, roles in {people!r}:
    user = User.objects.create_user(email, {password!r}, is_staff=True)
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
print(User.objects.filter(is_staff=True, email__in=[email for email, _ in {people!r}]).count())
"""


@pytest.fixture(scope="session")
def staff(stack) -> dict:
    """The staff accounts, and finance's authenticator (a TOTP device made with auth_service's
    ``totp_device`` command, as an admin enrols a payment manager)."""
    made = stack.shell("auth", MAKE_STAFF.format(people=[MERCHANDISER, FINANCE], password=PASSWORD))
    assert made == "2", made
    # the URI is the command's last line (its log lines go to stdout too)
    uri = stack.manage("auth", "totp_device", FINANCE[0]).splitlines()[-1]
    return {"merchandiser": MERCHANDISER[0], "finance": FINANCE[0], "phone": Authenticator(uri)}


@pytest.fixture(scope="session")
def catalogue(stack, gateway, staff) -> dict:
    """Categories and products made by the merchandiser through the API, each SKU restocked
    once inventory_service has it (from ``product.created``). SKU → product."""
    merch = Api(gateway, sign_in(gateway, staff["merchandiser"])["access"])
    products = {}
    for slug, items in CATALOGUE.items():
        category = merch.ok(
            "POST", "/api/v1/categories/", {"name": slug.title(), "slug": slug}, expect=201
        )
        for sku, name, price, _ in items:
            products[sku] = merch.ok(
                "POST",
                "/api/v1/products/",
                {
                    "sku": sku,
                    "name": name,
                    "price": price,
                    "category": category["id"],
                    "description": f"{name}, made for the end-to-end run.",
                },
                expect=201,
            )
    for items in CATALOGUE.values():
        for sku, _, _, stock in items:
            wait_for(
                lambda s=sku: merch.get(f"/api/v1/inventory/{s}/")[0] == 200,
                what=f"{sku} in inventory",
            )
            merch.ok(
                "POST",
                f"/api/v1/inventory/{sku}/adjustments/",
                {"kind": "restock", "quantity": stock, "reason": "first delivery"},
                expect=201,
            )
    return products


def new_customer(gateway: str, **names: str) -> tuple[str, dict, dict]:
    """A registered customer: email, the registration's answer and a token pair."""
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    created = Api(gateway).ok(
        "POST", "/api/v1/auth/register/", {"email": email, "password": PASSWORD, **names}, 201
    )
    return email, created, sign_in(gateway, email)


def place_order(api: Api, lines: list[tuple[dict, int]], payment_token: str = "tok_visa") -> dict:
    body = {
        "lines": [{"product_id": product["id"], "quantity": n} for product, n in lines],
        "shipping_address": ADDRESS,
        "payment_token": payment_token,
    }
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return api.ok("POST", "/api/v1/orders/", body, expect=201, headers=headers)


def settled(api: Api, order_id: str, timeout: float = 60.0) -> dict:
    """The order once it reached a final state (polled as its customer)."""

    def final():
        order = api.ok("GET", f"/api/v1/orders/{order_id}/")
        return order if order["status"] in FINAL else None

    return wait_for(final, timeout=timeout, interval=0.5, what=f"order {order_id} to settle")
