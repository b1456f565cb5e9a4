"""Benchmark: the catalogue's cached reads against the same server's ``/healthz``.

product_service with the demo catalogue (its ``load_demo``), one granian process: a product
detail and the product list, both served from the cache after the first read, as a ratio to
``/healthz`` (target ≥ 0.6x).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service_kit.platform import BY_NAME

from .report import bars
from .runner import Context, Row, register
from .services import exists

TARGET = 0.6
READS = {
    "/healthz": "/healthz",
    "product detail (cached)": "/api/v1/products/DEMO-SLUG/",
    "product list (cached)": "/api/v1/products/?ordering=price",
}


def plot(rows: list[Row], path: Path) -> None:
    labels = [row["read"] for row in rows]
    bars(
        path,
        labels,
        {
            "requests/s at c=8 (higher is better)": {"": [r["req/s (c=8)"] for r in rows]},
            "x /healthz req/s": {"": [r["x /healthz"] for r in rows]},
        },
        f"product_service cached reads vs /healthz (target ≥ {TARGET}x)",
    )


@register("catalogue reads", slug="catalogue", plot=plot)
def catalogue_reads(context: Context) -> list[Row]:
    product = BY_NAME["product"]
    if not exists(product):
        context.note("product_service missing: skipped")
        return []
    harness = context.harness
    harness.migrate(product)
    env = harness.env_for(product)
    loaded = subprocess.run(
        [sys.executable, "manage.py", "load_demo", "--force"],
        cwd=product.path,
        env=env,
        capture_output=True,
        text=True,
    )
    if loaded.returncode:
        raise RuntimeError(f"load_demo failed:\n{loaded.stdout}{loaded.stderr}")
    slug = (
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from catalogue.models import Product; "
                "print(Product.objects.filter(sku__startswith='DEMO-', is_active=True)"
                ".order_by('sku').first().slug)",
            ],
            cwd=product.path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    web = harness.start_web(product, migrate=False)
    rows: list[Row] = []
    for read, path in READS.items():
        url = web.url + path.replace("DEMO-SLUG", slug)
        runs = context.measure(url)
        rows.append(
            {
                "read": read,
                "p50 ms (c=1)": runs[1].p50_ms,
                "p99 ms (c=1)": runs[1].p99_ms,
                "req/s (c=8)": runs[8].rps,
                "errors": sum(r.errors + r.non_2xx for r in runs.values()),
            }
        )
    base = rows[0]["req/s (c=8)"]
    for row in rows:
        row["x /healthz"] = row["req/s (c=8)"] / base if base else float("nan")
        row["target"] = "" if row["read"] == "/healthz" else f"≥ {TARGET}x"
    context.note(
        f"One granian process (1 worker x 4 threads), {harness.profile} profile; the demo "
        "catalogue; the first read fills the cache (the warm-up), the measured ones hit it."
    )
    return rows
