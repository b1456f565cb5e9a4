"""service_kit.running on real sockets and processes of this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

from service_kit import running


def test_a_listening_socket_is_found_with_its_process_and_gone_once_closed():
    with socket.socket(socket.AF_INET6) as six, socket.socket() as four:
        four.bind(("127.0.0.1", 0))
        port = four.getsockname()[1]
        assert running.listeners(port) == (set(), [])  # bound, not listening
        four.listen()
        inodes, holders = running.listeners(port)
        assert len(inodes) == 1 and holders == [os.getpid()]
        six.bind(("::1", 0))
        six.listen()
        assert running.listeners(six.getsockname()[1])[1] == [os.getpid()]
    assert running.listeners(port) == (set(), [])


def test_a_claim_is_held_by_one_process_at_a_time_and_freed_with_it():
    name = f"service_kit.test.{uuid.uuid4().hex}"
    held = running.claim(name)
    assert held is not None
    assert running.claim(name) is None
    assert running.claim_holders(name) == [os.getpid()]
    # another process cannot take it either, and says so
    other = subprocess.run(  # noqa: S603 - this interpreter, a line written here
        [sys.executable, "-c", f"from service_kit import running; print(running.claim({name!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == "None"
    held.close()
    assert running.claim_holders(name) == []
    again = running.claim(name)
    assert again is not None
    again.close()


def test_a_process_is_described_by_its_command_parent_and_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert running.parent(child.pid) == os.getpid()
        assert child.pid in running.descendants([os.getpid()])
        assert running.ancestors(child.pid)[:2] == [child.pid, os.getpid()]
        assert running.command(child.pid) == "python -c import time; time.sleep(30)".replace(
            "python", os.path.basename(sys.executable)
        )
        assert running.alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not running.alive(child.pid)
