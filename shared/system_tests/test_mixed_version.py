"""A rolling update as Kubernetes runs one: the previous release of inventory_service (its last
release tag, checked out from git beside this tree) runs next to this release, worker beside
worker on the same queues and web beside web on the same port (``SO_REUSEPORT``), both on the same
database, while orders flow through this release of every other service. Both consume and
produce, and every order completes: the envelope this release writes is one the previous release
reads, and the other way round.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from platform_helpers import (
    INVENTORY,
    PATIENT_TIMERS,
    customer_token,
    order_body,
    payments,
    post_order,
    previous_release,
    previous_tag,
    reservations,
    settle,
    start_saga,
    stock,
    stop,
)

from platform_tools.testing import backing
from platform_tools.testing.processes import Harness, Proc, node_named

SKU = "MIXED-MUG"
ORDERS = 16


def start_previous(harness: Harness, service, root: Path, release_env, name: str, command, **env):
    """A process of the previous release's ``service``: its own code and kit, this harness's
    database, broker and upstreams; a log of its own (``<name>.log``)."""
    previous = dataclasses.replace(service, base=root)
    environment = harness.env_for(previous, **env, **release_env)
    if "VIRTUAL_ENV" in release_env:  # the release's own venv: its own servers
        command = [str(Path(release_env["VIRTUAL_ENV"]) / "bin" / Path(command[0]).name)]
        command += command[1:]
    proc = Proc(
        name, command, previous.path, environment, harness.folder / "logs" / f"{name}.log"
    ).start()
    harness.procs.append(proc)
    return proc


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    try:
        tag = previous_tag()
    except LookupError as error:
        if backing.required():  # CI holds the history: a missing release is a failure there
            raise
        pytest.skip(str(error))
    # Kept across runs by the release's commit: pytest's base folder outlives one run's.
    root, release_env = previous_release(tmp_path_factory.getbasetemp().parent, tag)
    folder = tmp_path_factory.mktemp("mixed")
    harness = Harness(folder, profile="real", broker_url=backing.create_vhost())
    try:
        platform = start_saga(harness, {SKU: 100}, timers=PATIENT_TIMERS)
        env = platform["worker_env"]["inventory"]
        web = harness.start_web(INVENTORY, migrate=False, **env)
        old_worker = start_previous(
            harness,
            INVENTORY,
            root,
            release_env,
            "inventory.worker.previous",
            # a node name of its own, as a second pod's host name gives it
            node_named(INVENTORY.worker_command(embedded_beat=False), "inventory@previous"),
            **env,
        )
        old_web = start_previous(
            harness,
            INVENTORY,
            root,
            release_env,
            "inventory.web.previous",
            INVENTORY.web_command(port=web.port),
            **env,
        )
        old_worker.wait_log(" ready.", timeout=120)
        old_web.port = web.port
        yield {**platform, "root": root, "web": web, "old_worker": old_worker, "old_web": old_web}
    finally:
        stop(harness)


def test_previous_release_runs_beside_this_one(platform):
    harness = platform["harness"]
    old_worker, old_web = platform["old_worker"], platform["old_web"]
    # The previous release's code, not this tree's, with its own kit first on the path.
    assert old_worker.cwd == platform["root"] / INVENTORY.folder
    kit = subprocess.run(
        [sys.executable, "-c", "import service_kit; print(service_kit.__file__)"],
        env=old_worker.env,
        cwd=old_worker.cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(kit).is_relative_to(platform["root"]), kit
    token = customer_token(platform["auth"])
    before = stock(platform, SKU)

    def place(_):
        status, _, order = post_order(platform, token, order_body(platform, SKU, "tok_visa"))
        assert status == 201, order
        return order

    with ThreadPoolExecutor(max_workers=4) as pool:
        placed = list(pool.map(place, range(ORDERS)))
        # reads on the shared port while the orders flow: whichever release answers, 200
        url = f"{platform['web'].url}/api/v1/inventory/{SKU}/"
        reads = list(pool.map(lambda _: urllib.request.urlopen(url, timeout=10).status, range(60)))
    assert reads == [200] * 60

    for order in placed:
        done = settle(platform, token, order["id"], timeout=120)
        assert done["status"] == "CONFIRMED", done["history"]
        assert reservations(platform, order["id"]) == [("COMMITTED", [{"sku": SKU, "quantity": 1}])]
        assert payments(platform, order["id"]) == [("SUCCEEDED", "12.50", "")]
    assert stock(platform, SKU) == (before[0] - ORDERS, before[1])

    # Both releases took commands off the shared queues and answered them (the saga only moves
    # on when inventory's outcome arrives), and neither dead-lettered a message of the other.
    new_worker = platform["workers"]["inventory"]
    for proc in (old_worker, new_worker):
        log = proc.log.read_text(errors="replace")
        assert re.search(r"Task inventory\.reserve\[[0-9a-f-]+\] succeeded", log), proc.tail()
    assert harness.query(INVENTORY, "SELECT count(*) FROM service_kit_deadletter") == [(0,)]
    assert old_web.alive() and old_worker.alive()
