"""Benchmark 1: ``/healthz`` and one API read of every service, each as its own web process."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import urllib3

from platform_tools.testing.processes import Harness, Proc
from service_kit.platform import SERVICES, Service

from .report import bars
from .runner import Context, Row, register

#: One API read per service (docs/api.md#resources). Reads that need a token answer 401/403
#: until issue 3.
#: Reads that need a customer's token (issued by the auth_service of the same run).
WITH_TOKEN = {"user", "order", "payment"}
PASSWORD = "Bench-Password-1234"  # noqa: S105 - a benchmark account's password on a private loopback stack
#: High enough that the gateway's throttles never answer 429 during a run.
NO_THROTTLES = "user=100000000/min,anon=100000000/min,auth=100000000/min,admin=100000000/min"

API_READS = {
    "gateway": "/api/v1/products/",
    "auth": "/.well-known/jwks.json",
    "user": "/api/v1/users/me/",  # a profile is seeded for the bench's customer
    "product": "/api/v1/products/",
    "inventory": "/api/v1/inventory/BENCH-0000/",
    "order": "/api/v1/orders/",
    "payment": "/api/v1/payments/",
}

SEED_PRODUCTS = 50

#: Run by ``manage.py shell -c`` in product_service: the kit never imports a service's code.
SEED_CODE = """
from catalogue.models import Category, Product
category, _ = Category.objects.get_or_create(slug="bench", defaults={{"name": "Bench"}})
for i in range({count}):
    Product.objects.get_or_create(sku=f"BENCH-{{i:04d}}", defaults={{
        "name": f"Bench product {{i}}", "price": f"{{10 + i}}.50", "category": category,
        "description": "A product made by the benchmark. " * 4,
        "attributes": {{"colour": "blue", "size": i % 5}},
    }})
print(Product.objects.filter(sku__startswith="BENCH-").count())
"""


#: Run in inventory_service: the stock item the inventory read asks for.
SEED_STOCK_CODE = """
from stock.models import StockItem
StockItem.objects.get_or_create(sku="BENCH-0000", defaults={"on_hand": 100, "reserved": 3})
print(1)
"""


#: Run in user_service: the bench customer's profile (normally made by user.registered).
SEED_PROFILE_CODE = """
from profiles.models import Profile
Profile.objects.get_or_create(user_id="{user_id}", defaults={{"email": "{email}"}})
print(1)
"""


def sign_in(harness: Harness, auth: Service, web: Proc) -> dict[str, str]:
    """A customer of the run's auth_service: its id, email and an access token."""
    email = "bench.customer@example.com"
    user_id = (
        subprocess.run(  # noqa: S603 - this interpreter, argv built here
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from accounts.models import User\n"
                f"u = User.objects.filter(email='{email}').first() or "
                f"User.objects.create_user('{email}', '{PASSWORD}')\nprint(u.pk)",
            ],
            cwd=auth.path,
            env=harness.env_for(auth, JWT_AUTO_KEY="1"),
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    answer = urllib3.request(
        "POST",
        f"{web.url}/api/v1/auth/token/",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    return {"user_id": user_id, "email": email, "access": answer.json()["access"]}


def exists(service: Service) -> bool:
    return (service.path / "manage.py").exists()


def seed_products(harness: Harness, service: Service, count: int = SEED_PRODUCTS) -> int:
    """Make ``count`` products in the service's (already migrated) database; idempotent."""
    return seed(harness, service, SEED_CODE.format(count=count))


def seed(harness: Harness, service: Service, code: str) -> int:
    """Run ``code`` in the service's shell; it prints how many rows it made (last line)."""
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=harness.env_for(service),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"seeding {service.name} failed:\n{result.stdout}{result.stderr}")
    return int(result.stdout.strip().splitlines()[-1])


def status_of(url: str, headers: dict | None = None) -> int:
    return urllib3.request(
        "GET", url, headers=headers, retries=False, redirect=False, timeout=5.0
    ).status


def note_for(status: int) -> str:
    if 200 <= status < 300:
        return ""
    if status in (401, 403):
        return f"refused ({status})"
    if status == 404:
        return "no such route yet (404)"
    return f"answers {status}"


def endpoint_row(
    context: Context,
    service: Service,
    web: Proc,
    path: str,
    note: str = "",
    headers: dict | None = None,
) -> Row:
    status = status_of(web.url + path, headers)
    row: Row = {"service": service.name, "endpoint": path, "status": status}
    empty = {
        "p50 ms (c=1)": math.nan,
        "p99 ms (c=1)": math.nan,
        "req/s (c=8)": math.nan,
        "p99 ms (c=8)": math.nan,
        "errors": None,
    }
    problem = note_for(status)
    if problem:  # an error page's speed says nothing about the read: only the status is kept
        return {**row, **empty, "note": "; ".join(filter(None, [problem, note]))}
    runs = context.measure(web.url + path, headers=headers)
    return {
        **row,
        "p50 ms (c=1)": runs[1].p50_ms,
        "p99 ms (c=1)": runs[1].p99_ms,
        "req/s (c=8)": runs[8].rps,
        "p99 ms (c=8)": runs[8].p99_ms,
        "errors": sum(r.errors + r.non_2xx for r in runs.values()),
        "note": note,
    }


def plot(rows: list[Row], path: Path) -> None:
    services = list(dict.fromkeys(row["service"] for row in rows))

    def values(metric: str, health: bool) -> list[float]:
        found = {
            r["service"]: r.get(metric, math.nan)
            for r in rows
            if (r["endpoint"] == "/healthz") == health
        }
        return [found.get(s, math.nan) for s in services]

    def series(metric: str) -> dict[str, list[float]]:
        return {"/healthz": values(metric, True), "API read": values(metric, False)}

    panels = {
        "requests/s at c=8 (higher is better)": series("req/s (c=8)"),
        "p50 latency at c=1, ms (lower is better)": series("p50 ms (c=1)"),
    }
    # A read that was not measured says why on its label: its status code.
    unmeasured = {
        r["service"]: r["status"]
        for r in rows
        if r["endpoint"] != "/healthz" and math.isnan(r.get("req/s (c=8)", math.nan))
    }
    labels = [f"{s}\n(read: {unmeasured[s]})" if s in unmeasured else s for s in services]
    bars(path, labels, panels, "Service endpoints: granian, 1 worker x 4 threads each")


@register("service endpoints", slug="services", plot=plot)
def service_endpoints(context: Context) -> list[Row]:
    harness = context.harness
    present = [s for s in SERVICES if exists(s)]
    for missing in (s for s in SERVICES if not exists(s)):
        context.note(f"{missing.folder}: not on disk yet (no manage.py), skipped")
    # The gateway last, pointed at the services already running (``<NAME>_SERVICE_URL``).
    present.sort(key=lambda s: s.name == "gateway")
    rows: list[Row] = []
    upstreams: dict[str, str] = {"GATEWAY_THROTTLES": NO_THROTTLES, "JWT_AUTO_KEY": "1"}
    customer: dict[str, str] = {}
    for service in present:
        try:
            harness.migrate(service, **upstreams)
            seeded = seed_products(harness, service) if service.name == "product" else 0
            if service.name == "inventory":
                seed(harness, service, SEED_STOCK_CODE)
            if service.name == "user" and customer:
                seed(harness, service, SEED_PROFILE_CODE.format(**customer))
            web = harness.start_web(service, migrate=False, **upstreams)
        except (RuntimeError, TimeoutError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            context.note(f"{service.name}: did not start ({first}); see its log")
            rows.append(
                {"service": service.name, "endpoint": "—", "status": None, "note": "did not start"}
            )
            continue
        if service.name != "gateway":
            upstreams[f"{service.name.upper()}_SERVICE_URL"] = web.url
        if service.name == "auth":
            customer = sign_in(harness, service, web)
            upstreams["JWT_JWKS_URL"] = f"{web.url}/.well-known/jwks.json"
        rows.append(endpoint_row(context, service, web, "/healthz"))
        note = f"{seeded} products, page of 20" if seeded else ""
        headers = None
        if service.name in WITH_TOKEN and customer:
            headers = {"Authorization": f"Bearer {customer['access']}"}
            note = "a customer's bearer token"
        rows.append(endpoint_row(context, service, web, API_READS[service.name], note, headers))
    context.note(
        "Each service is one granian process (1 worker x 4 threads, its production command), "
        "measured one at a time; the load generator shares the machine's cores."
    )
    return rows
