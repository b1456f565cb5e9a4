"""``make up`` on the embedded profile: every service migrated, started and ready."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request

import pytest
from conftest import wait_for

from service_kit.conf import REPO_ROOT

NAMES = ("gateway", "auth", "user", "product", "inventory", "order", "payment")


def free_block(size: int = 7) -> int:
    for base in range(21000, 40000, 50):
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


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and json.loads(response.read())["status"] == "ok"
    except OSError:
        return False


@pytest.fixture
def platform_env(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "CACHE_URL",
            "CACHE_KEY_PREFIX",
            "CELERY_BROKER_URL",
            "PROMETHEUS_MULTIPROC_DIR",
            "DJANGO_SETTINGS_MODULE",
        )
    }
    env.update(PLATFORM_DATA_DIR=str(tmp_path / "var"), PLATFORM_PORT_BASE=str(free_block()))
    return env


def run_up(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "service_kit.platform", "up"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def assert_every_demo_product_is_in_stock(data) -> None:
    """The demo catalogue (product_service) and the demo stock (inventory_service) name the same
    SKUs: a newcomer's first order must not find the shelf empty."""
    with sqlite3.connect(data / "product.sqlite3") as products:
        skus = {sku for (sku,) in products.execute("SELECT sku FROM catalogue_product")}
    with sqlite3.connect(data / "inventory.sqlite3") as inventory:
        stocked = dict(inventory.execute("SELECT sku, on_hand FROM stock_stockitem"))
    assert skus, "no demo products"
    assert {sku: stocked.get(sku, 0) for sku in skus if not stocked.get(sku)} == {}


def test_up_brings_every_service_to_ready_twice(platform_env, tmp_path):
    base = int(platform_env["PLATFORM_PORT_BASE"])
    for attempt in ("first", "second"):
        log_path = tmp_path / f"up-{attempt}.log"
        with log_path.open("wb") as log:
            proc = run_up(platform_env, log)
            try:
                for offset, name in enumerate(NAMES):
                    url = f"http://127.0.0.1:{base + offset}"
                    wait_for(
                        lambda u=url: ready(f"{u}/readyz"),
                        timeout=180,
                        what=f"{name} ready ({attempt} run):\n{log_path.read_text()[-3000:]}",
                    )
                    assert ready(f"{url}/healthz")
                output = log_path.read_text()
                for offset, name in enumerate(NAMES):
                    assert f"http://127.0.0.1:{base + offset}/" in output, name
                for name in NAMES[1:]:
                    assert f"{name}.worker" in output  # one worker per service, none for gateway
                assert "gateway.worker" not in output
                assert "demo staff    staff@demo.local / Demo-" in output
                if attempt == "first":
                    assert_every_demo_product_is_in_stock(tmp_path / "var")
            finally:
                stop(proc)
