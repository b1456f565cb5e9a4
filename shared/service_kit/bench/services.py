"""Benchmark 1: ``/healthz`` and one API read of every service, each as its own web process."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import urllib3

from service_kit.platform import SERVICES, Service
from service_kit.testing.processes import Harness, Proc

from .report import bars
from .runner import Context, Row, register

#: One API read per service (API.md). Reads that need a token answer 401/403 until issue 3.
API_READS = {
    "gateway": "/api/v1/products/",
    "auth": "/.well-known/jwks.json",
    "user": "/api/v1/users/me/",
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


def exists(service: Service) -> bool:
    return (service.path / "manage.py").exists()


def seed_products(harness: Harness, service: Service, count: int = SEED_PRODUCTS) -> int:
    """Make ``count`` products in the service's (already migrated) database; idempotent."""
    return seed(harness, service, SEED_CODE.format(count=count))


def seed(harness: Harness, service: Service, code: str) -> int:
    """Run ``code`` in the service's shell; it prints how many rows it made (last line)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=harness.env_for(service),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"seeding {service.name} failed:\n{result.stdout}{result.stderr}")
    return int(result.stdout.strip().splitlines()[-1])


def status_of(url: str) -> int:
    return urllib3.request("GET", url, retries=False, redirect=False, timeout=5.0).status


def note_for(status: int) -> str:
    if 200 <= status < 300:
        return ""
    if status in (401, 403):
        return "needs token (issue 3)"
    if status == 404:
        return "no such route yet (404)"
    return f"answers {status}"


def endpoint_row(context: Context, service: Service, web: Proc, path: str, note: str = "") -> Row:
    status = status_of(web.url + path)
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
    runs = context.measure(web.url + path)
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
    upstreams: dict[str, str] = {}
    for service in present:
        try:
            harness.migrate(service)
            seeded = seed_products(harness, service) if service.name == "product" else 0
            if service.name == "inventory":
                seed(harness, service, SEED_STOCK_CODE)
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
        rows.append(endpoint_row(context, service, web, "/healthz"))
        note = f"{seeded} products, page of 20" if seeded else ""
        rows.append(endpoint_row(context, service, web, API_READS[service.name], note))
    context.note(
        "Each service is one granian process (1 worker x 4 threads, its production command), "
        "measured one at a time; the load generator shares the machine's cores."
    )
    return rows
