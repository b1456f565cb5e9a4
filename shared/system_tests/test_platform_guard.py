"""One platform per checkout and per port: a second ``make up`` (here, in another clone, or with a
program on one of its ports) is refused at once and names what holds the ports; ``make up
DETACH=1``, ``make status`` and ``make down`` run one in the background and stop it whole.

One platform, started in the background, serves every test here; the last stops it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from platform_helpers import PLATFORM_NAMES as NAMES
from platform_helpers import free_block, platform_env

from service_kit.conf import REPO_ROOT

pytestmark = pytest.mark.timeout(600)

VENV = Path(sys.executable).parent.parent
MAKE = shutil.which("make") or "make"
#: A refusal comes before anything is prepared: well within this, even on a loaded machine.
FAST = 20.0


def make(env: dict[str, str], *args: str, cwd: Path = REPO_ROOT, timeout: float = 120):
    """``make ARGS`` in ``cwd`` with this interpreter's virtualenv: (exit code, output, seconds)."""
    began = time.monotonic()
    done = subprocess.run(  # noqa: S603 - make with arguments written in this module
        [MAKE, "--no-print-directory", *args, f"VENV={VENV}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def processes_of(data: Path) -> set[int]:
    """Every process started with this platform's data folder in its environment (read straight
    from /proc, not by the code under test)."""
    marker = f"PLATFORM_DATA_DIR={data}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    folder = tmp_path_factory.mktemp("platform")
    base = free_block(22000)
    env = platform_env(PLATFORM_DATA_DIR=str(folder / "var"), PLATFORM_PORT_BASE=str(base))
    code, output, _ = make(env, "up", "DETACH=1", timeout=480)
    assert code == 0, output[-4000:]
    state = json.loads((folder / "var" / "platform.json").read_text())
    yield {"env": env, "base": base, "data": folder / "var", "pid": state["pid"], "up": output}
    make(env, "down")  # when a test before the last failed


def test_up_detached_comes_back_with_every_service_answering(platform):
    assert "make down stops it" in platform["up"]
    log = platform["data"] / "log" / "platform.log"
    assert "gateway.web started" in log.read_text()
    code, output, _ = make(platform["env"], "status")
    assert code == 0, output
    assert f"Platform pid {platform['pid']} of {REPO_ROOT}, in the background" in output
    rows = {line.split()[0]: line.split() for line in output.splitlines()[2:] if line.strip()}
    for offset, name in enumerate(NAMES):
        row = rows[name]
        assert row[1] == str(platform["base"] + offset)
        assert row[2] == "200", row  # /healthz
        assert row[-2].isdigit() and Path(f"/proc/{row[-2]}").exists(), row  # the web process
        if name == "gateway":
            assert row[-1] == "-"  # no worker
        else:
            assert row[-1].isdigit() and Path(f"/proc/{row[-1]}").exists(), row


def test_a_second_up_in_this_checkout_is_refused_at_once(platform):
    for env in (platform["env"], {**platform["env"], "PLATFORM_PORT_BASE": str(free_block(26000))}):
        code, output, seconds = make(env, "up")
        assert code != 0
        assert seconds < FAST, output
        assert "the platform of this checkout already runs" in output
        assert f"pid {platform['pid']}" in output and "make down" in output
        assert "ready to start" not in output  # refused before preparing anything
    assert all(answers(platform["base"] + offset) for offset in range(len(NAMES)))


def test_up_in_another_clone_is_refused_naming_the_holder(platform, tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy2(REPO_ROOT / "Makefile", clone / "Makefile")
    shutil.copytree(
        REPO_ROOT / "shared" / "service_kit",
        clone / "shared" / "service_kit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # The clone runs its own copy of the kit with this virtualenv, whose install it must leave
    # alone (-o install: the editable install points at this checkout).
    env = platform_env(PLATFORM_PORT_BASE=str(platform["base"]), PYTHONPATH=str(clone / "shared"))
    code, output, seconds = make(env, "-o", "install", "up", cwd=clone)
    assert code != 0
    assert seconds < FAST, output
    gateway = f"{platform['base']} (gateway): pid "
    assert gateway in output and "granian" in output, output
    assert f"of the platform pid {platform['pid']}" in output
    assert f"The platform pid {platform['pid']} is the checkout {REPO_ROOT}'s." in output
    assert f"`make down` in {REPO_ROOT}" in output
    assert not (clone / "var" / "platform.json").exists()
    assert all(answers(platform["base"] + offset) for offset in range(len(NAMES)))


def test_a_program_listening_on_one_port_is_named(tmp_path):
    base = free_block(28000)
    env = platform_env(PLATFORM_DATA_DIR=str(tmp_path / "var"), PLATFORM_PORT_BASE=str(base))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", base + 3))
        listener.listen()
        code, output, seconds = make(env, "up")
    assert code != 0
    assert seconds < FAST, output
    assert f"{base + 3} (product): pid {os.getpid()} (" in output
    assert "the program named above" in output
    assert f"{base} (gateway)" not in output


def test_down_stops_the_platform_and_leaves_no_process(platform):
    before = processes_of(platform["data"])
    assert platform["pid"] in before and len(before) >= 1 + len(NAMES) + len(NAMES) - 1
    code, output, _ = make(platform["env"], "down", timeout=120)
    assert code == 0, output
    assert f"Stopped the platform pid {platform['pid']}" in output
    assert processes_of(platform["data"]) == set()
    for offset in range(len(NAMES)):
        with socket.socket() as sock:  # every port free again (SO_REUSEADDR: past TIME_WAIT)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", platform["base"] + offset))
            sock.listen()
    code, output, _ = make(platform["env"], "status")
    assert code != 0 and "No platform of this checkout is running" in output
    assert not (platform["data"] / "platform.json").exists()
