"""What runs on this machine, read from the tables Linux publishes under ``/proc``: who listens on
a TCP port, who holds a socket, a process's command, folder, parent and children.

``make up`` uses it to refuse a second platform and to name what holds its ports, ``make status``
and ``make down`` to find the processes of this checkout's platform. A platform *claims* what it
must have alone (its ports, its data folder) with an abstract Unix socket per name: binding one is
atomic, two processes cannot both succeed, and the kernel lets go when the last process holding it
ends, however it ends. No dependency: psutil would read the same files.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # gone, or not ours to read
        return ""


def pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def alive(pid: int) -> bool:
    stat = _read(PROC / str(pid) / "stat")
    return bool(stat) and stat.rpartition(")")[2].split()[0] != "Z"


def parent(pid: int) -> int:
    """The parent's pid (0 when unknown): the fourth field of ``stat``, after the command in
    parentheses (which may itself hold spaces and parentheses)."""
    fields = _read(PROC / str(pid) / "stat").rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 else 0


def group(pid: int) -> int:
    fields = _read(PROC / str(pid) / "stat").rpartition(")")[2].split()
    return int(fields[2]) if len(fields) > 2 else 0


def arguments(pid: int) -> list[str]:
    return [arg for arg in _read(PROC / str(pid) / "cmdline").split("\0") if arg]


def command(pid: int, limit: int = 120) -> str:
    """The command line of ``pid`` for a person: programs by their name, not their path (a script
    run by an interpreter by the script's), its middle left out past ``limit`` characters."""
    args = arguments(pid)
    if len(args) > 1 and Path(args[0]).name.startswith("python") and not args[1].startswith("-"):
        args = args[1:]
    if args:
        args[0] = Path(args[0]).name
    text = " ".join(" ".join(arg.split()) for arg in args)
    half = limit // 2
    return text if len(text) <= limit else f"{text[:half].rstrip()} … {text[-half:].lstrip()}"


def cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(PROC / str(pid) / "cwd"))
    except OSError:
        return None


def ancestors(pid: int) -> list[int]:
    """``pid``, its parent, the parent's parent... up to (not including) pid 1."""
    chain = []
    while pid > 1 and pid not in chain:
        chain.append(pid)
        pid = parent(pid)
    return chain


def descendants(roots: Iterable[int]) -> set[int]:
    """Every process under ``roots`` (the roots not included)."""
    children: dict[int, list[int]] = {}
    for pid in pids():
        children.setdefault(parent(pid), []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def listening_inodes(port: int) -> set[int]:
    """The sockets listening on TCP ``port``, any address, IPv4 or IPv6."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in _read(PROC / "net" / table).splitlines()[1:]:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == _LISTEN
                and int(fields[1].rpartition(":")[2], 16) == port
            ):
                inodes.add(int(fields[9]))
    return inodes


def socket_holders(inodes: set[int]) -> list[int]:
    """The processes with one of these sockets open (``/proc/<pid>/fd/*`` → ``socket:[inode]``);
    a process of another user whose descriptors this one may not read is not among them."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for pid in pids():
        try:
            descriptors = os.listdir(PROC / str(pid) / "fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(PROC / str(pid) / "fd" / fd) in wanted:
                    holders.append(pid)
                    break
            except OSError:
                continue
    return sorted(holders)


def listeners(port: int) -> tuple[set[int], list[int]]:
    """Who listens on TCP ``port``: the sockets' inodes (none: the port is free) and the
    processes holding them (none although there are inodes: another user's processes)."""
    inodes = listening_inodes(port)
    return inodes, socket_holders(inodes) if inodes else []


def claim(name: str) -> socket.socket | None:
    """Claim ``name`` on this machine for as long as the returned socket stays open in any process
    (an abstract Unix socket: no file, released by the kernel when its last holder ends); ``None``
    when another process holds it. Forked children hold it too; executed programs do not (the
    socket is not inheritable)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(f"\0{name}")
    except OSError:
        sock.close()
        return None
    return sock


def claim_holders(name: str) -> list[int]:
    """The processes holding the claim ``name``."""
    inodes = set()
    for line in _read(PROC / "net" / "unix").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and fields[7] == f"@{name}":
            inodes.add(int(fields[6]))
    return socket_holders(inodes) if inodes else []
