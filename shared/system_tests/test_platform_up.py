"""``make up`` on the embedded profile: every service migrated, started and ready."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import platform_helpers as helpers
import pytest
import requests
from platform_helpers import PLATFORM_NAMES as NAMES

from platform_tools.testing.processes import wait_for
from service_kit import running
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICE_CLIENTS


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and json.loads(response.read())["status"] == "ok"
    except OSError:
        return False


@pytest.fixture
def platform_env(tmp_path):
    return helpers.platform_env(
        PLATFORM_DATA_DIR=str(tmp_path / "var"), PLATFORM_PORT_BASE=str(helpers.free_block())
    )


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


def service_token_scopes(auth_url: str, client_id: str, secret: str) -> list[str]:
    """The scopes of the token auth_service gives these credentials (read, not verified: auth
    itself issued it a moment ago)."""
    request = urllib.request.Request(
        f"{auth_url}/api/v1/auth/service-token/",
        data=json.dumps({"client_id": client_id, "client_secret": secret}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = json.loads(response.read())["access"].split(".")[1]
    scopes: list[str] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[
        "scopes"
    ]
    return scopes


def assert_service_clients_work(data, base: int, output: str) -> dict[str, str]:
    """Every calling service's web process has its client id and secret file; the secret is the
    owner's alone, never printed, and auth_service gives a token with the client's scopes for it."""
    secrets = {}
    for name, scopes in SERVICE_CLIENTS.items():
        path = data / "service-clients" / name
        assert (path.stat().st_mode & 0o777) == 0o600, name
        secrets[name] = path.read_text().strip()
        assert len(secrets[name]) >= 32 and secrets[name] not in output, name
        web = running.listeners(base + NAMES.index(name))[1]
        assert web, f"no process listens for {name}"
        environ = proc_environ(web[0])
        assert environ.get("SERVICE_CLIENT_ID") == name
        assert environ.get("SERVICE_CLIENT_SECRET_FILE") == str(path)
        auth_url = f"http://127.0.0.1:{base + NAMES.index('auth')}"
        assert service_token_scopes(auth_url, name, secrets[name]) == sorted(scopes)
    return secrets


def proc_environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as file:
        items = file.read().decode(errors="replace").split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def front_page_figures(gateway: str, email: str, password: str) -> str:
    """The staff front page of a staff member signed in at the gateway, once every service's
    figures are there (the first reads may find a service still warming up)."""
    browser = requests.Session()
    login = f"{gateway}/admin/gateway/login/?next=/admin/"
    assert browser.get(login, timeout=10).status_code == 200
    signed = browser.post(
        login,
        data={
            "csrfmiddlewaretoken": browser.cookies["gateway_csrftoken"],
            "email": email,
            "password": password,
            "next": "/admin/",
        },
        headers={"Origin": gateway, "Referer": login},
        allow_redirects=False,
        timeout=20,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/admin/", signed.text
    deadline = time.monotonic() + 60
    while True:
        page = browser.get(f"{gateway}/admin/", timeout=30)
        missing = re.findall(r'<p class="console-unavailable">([^<]*)</p>', page.text)
        if page.status_code == 200 and not missing:
            return page.text
        assert time.monotonic() < deadline, (page.status_code, missing)
        time.sleep(1)


def test_up_brings_every_service_to_ready_twice(platform_env, tmp_path):
    base = int(platform_env["PLATFORM_PORT_BASE"])
    kept = []
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
                    # The demo staff member's front page shows every service's live figures.
                    password = (tmp_path / "var" / "demo-password").read_text().strip()
                    page = front_page_figures(
                        f"http://127.0.0.1:{base}", "staff@demo.local", password
                    )
                    assert 'class="console-count"' in page, page
                # The gateway (staff front page figures) and order (reconciliation) call the
                # others with working credentials of their own, the same secret at every start.
                kept.append(assert_service_clients_work(tmp_path / "var", base, output))
            finally:
                stop(proc)
    assert kept[0] == kept[1]
