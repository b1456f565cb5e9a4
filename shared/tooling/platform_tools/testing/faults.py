"""Faults on loopback: a TCP proxy a test can cut and restore, and private backing servers.

The machine's PostgreSQL, RabbitMQ and Redis are never stopped by a test. A test that needs one
"down" either points its processes at a :class:`TcpProxy` and cuts that, or starts a server of its
own on free ports (:class:`RabbitNode`, :class:`PostgresCluster`) and stops and starts that.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int = 0):
        self.target = (target_host, target_port)
        self.port = port
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cut()

    def start(self) -> TcpProxy:
        """Listen (again, on the same port) and forward new connections."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        """Refuse new connections and drop every open one, as a dead host would."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)


class SocketUpstream:
    """Accepts connections and counts them; then hangs up at once, or never answers at all."""

    def __init__(self, *, hang_up: bool):
        self.hang_up = hang_up
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            if self.hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.listener.close()
        for conn in self.held:
            conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, *, up: bool, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                answered = True
        except OSError:
            answered = False
        if answered == up:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} still {'down' if up else 'up'} after {timeout}s")


class RabbitMQNode:
    """A RabbitMQ node of the test's own, on free ports, that it may stop and start again.

    Run from the server's own script (not the packaged wrappers, which switch user and cookie)
    with its own node name, ports, data, logs, cookie (``HOME``) and configuration, so it never
    meets the machine's node. Its data survives :meth:`stop`: durable queues and persistent
    messages are there again after :meth:`start`, as after a real broker restart.

        with RabbitMQNode(tmp_path) as node:
            url = node.url("/")
            node.stop(); ...; node.start()
    """

    BIN = Path(os.environ.get("RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))

    def __init__(self, folder: Path, *, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or _free_port()
        self.dist_port = _free_port()
        self.node = f"fault{self.port}@localhost"
        self.process: subprocess.Popen | None = None

    @classmethod
    def available(cls) -> bool:
        """Whether this machine has the server's programs (a test skips, or fails in CI)."""
        return (cls.BIN / "rabbitmq-server").exists() and (cls.BIN / "rabbitmqctl").exists()

    def __enter__(self) -> RabbitMQNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, vhost: str = "/") -> str:
        path = "" if vhost == "/" else vhost
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{path}"

    def env(self) -> dict[str, str]:
        home = self.folder / "home"
        conf = self.folder / "rabbitmq.conf"
        if not conf.exists():
            for sub in ("home", "mnesia", "log"):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
            conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
            (self.folder / "rabbitmq-env.conf").write_text("")
            (self.folder / "enabled_plugins").write_text("[].\n")
        return {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_PID_FILE": str(self.folder / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 90.0) -> RabbitMQNode:
        if self.running():
            return self
        env = self.env()  # makes the node's folders on first use
        with (self.folder / "server.log").open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - the private node's own rabbitmq-server, no arguments
                [str(self.BIN / "rabbitmq-server")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        # ``await_startup`` returns once the node accepts clients (its listener is up).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited:\n{self.tail()}")
            try:
                self.ctl("await_startup", "--timeout", "5", timeout=20)
                _wait_port(self.port, up=True, timeout=10, what="RabbitMQ listener")
                return self
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TimeoutError):
                time.sleep(0.5)
        raise TimeoutError(f"RabbitMQ node {self.node} did not start:\n{self.tail()}")

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the node (clients see their connections closed and new ones refused)."""
        if not self.running():
            return
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.ctl("stop", timeout=timeout)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        _wait_port(self.port, up=False, timeout=10, what="RabbitMQ listener")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        result = subprocess.run(  # noqa: S603 - the private node's own rabbitmqctl, argv built here
            [str(self.BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return result.stdout

    def add_vhost(self, name: str) -> str:
        """A vhost on this node with guest allowed in it; returns its broker URL."""
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.url(name)

    def tail(self, lines: int = 30) -> str:
        try:
            text = (self.folder / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl``) on a free port.

    The test may stop, start and restart it, and fill its connection slots, without touching
    the machine's server. Its folder is made here (``initdb`` refuses to run as root: the
    cluster then runs as the ``postgres`` system user and owns the folder) and removed by
    :meth:`destroy`. Trust authentication on loopback only; no durability settings (a test
    cluster), so it starts and stops quickly.

        cluster = PostgresCluster(max_connections=20).start()
        url = cluster.create_database("orders", owner="app")
        cluster.restart(); cluster.destroy()
    """

    def __init__(self, *, port: int | None = None, max_connections: int = 30, bindir=None):
        self.port = port  # chosen when it first starts (after initdb: a port kept free briefly)
        self.max_connections = max_connections
        self.bindir = Path(bindir or _postgres_bindir())
        self.folder = Path(tempfile.mkdtemp(prefix="pg-fault-"))
        self.data = self.folder / "data"
        # initdb and postgres refuse root; a root test runs them as the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._initialised = False

    @staticmethod
    def available() -> bool:
        """Whether this machine has the server's programs (a test skips, or fails in CI)."""
        try:
            _postgres_bindir()
        except FileNotFoundError:
            return False
        return True

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(  # noqa: S603 - argv built by this module's callers, no shell
            command, capture_output=True, text=True, timeout=timeout, check=True, cwd=self.folder
        )

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresCluster:
        if not self._initialised:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
            self._initialised = True
        self.port = self.port or _free_port()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c max_connections={self.max_connections} -c superuser_reserved_connections=3 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        _wait_port(self.port, up=True, timeout=30, what="PostgreSQL")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: open sessions are ended (their clients see the server close them)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        _wait_port(self.port, up=False, timeout=30, what="PostgreSQL")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.data), "status", timeout=20)
        except subprocess.CalledProcessError:
            return False
        return True

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser; its rows, if it has any."""
        with psycopg_connect(self.url(database)) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_role(self, name: str) -> str:
        """A plain login role (no superuser: only superusers may use the reserved connection
        slots); nothing happens when it exists. Returns the cluster's URL as that role."""
        from psycopg import sql

        with psycopg_connect(self.url()) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        return self.url("postgres", name)

    def create_database(self, name: str, *, owner: str = "postgres") -> str:
        """A database owned by ``owner`` (made a plain login role); returns its URL as owner."""
        from psycopg import sql

        if owner != "postgres":
            self.create_role(owner)
        with psycopg_connect(self.url()) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )
        return self.url(name, owner)

    def destroy(self) -> None:
        if self._initialised:
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def psycopg_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def _postgres_bindir() -> Path:
    """The newest installed server's programs (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise FileNotFoundError("no PostgreSQL server programs (pg_ctl) installed")
    return versions[-1].parent


class Duplicator:
    """Every task message published in a vhost delivered twice: at-least-once made "always twice".

    RabbitMQ's firehose (``rabbitmqctl trace_on``, a per-vhost switch of the node itself) copies
    each message published in the vhost to the ``amq.rabbitmq.trace`` exchange, with where it
    was published and its properties. This publishes every copy of a Celery task message once
    more to the same exchange and routing key, with the same body, task id and headers, marked so
    that the firehose's copy of the duplicate is not copied again. Nothing in the services knows:
    their consumers get each message twice, as after a redelivery. Use a node of the test's own
    (:class:`RabbitMQNode`): tracing is a change to the broker.

    ``copy(task_name)`` chooses the messages (default: every task but the kit's periodic ones);
    ``copied`` counts the duplicates sent per task name.
    """

    MARK = "x-duplicated-by-test"

    def __init__(self, node: RabbitMQNode, vhost: str, *, copy=None):
        self.node = node
        self.vhost = vhost
        self.copy = copy or (lambda task: not task.startswith(("service_kit.", "celery.")))
        self.copied: dict[str, int] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> Duplicator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> Duplicator:
        self.node.ctl("trace_on", "-p", self.vhost)
        # A copy keeps its sender's AMQP user_id, as a redelivery would: only an impersonator
        # may publish a user_id that is not its own.
        self.node.ctl("set_user_tags", "guest", "administrator", "impersonator")
        self._thread = threading.Thread(target=self._run, name="duplicator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError(f"the duplicator did not start: {self.error!r}")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        with contextlib.suppress(Exception):
            self.node.ctl("trace_off", "-p", self.vhost)

    def _run(self) -> None:
        import kombu

        try:
            with kombu.Connection(self.node.url(self.vhost), heartbeat=0) as conn:
                trace = kombu.Exchange("amq.rabbitmq.trace", type="topic", passive=True)
                queue = kombu.Queue(
                    "", exchange=trace, routing_key="publish.#", exclusive=True, auto_delete=True
                )
                producer = kombu.Producer(conn.channel())
                with conn.Consumer(queue, callbacks=[lambda body, msg: self._copy(producer, msg)]):
                    self._ready.set()
                    while not self._stop.is_set():
                        with contextlib.suppress(TimeoutError, socket.timeout):
                            conn.drain_events(timeout=0.5)
        except BaseException as exc:  # noqa: BLE001 - reported by start() or the test
            self.error = exc
            self._ready.set()

    def _copy(self, producer, message) -> None:
        trace = message.headers
        properties = dict(trace.get("properties") or {})
        headers = dict(properties.pop("headers", None) or {})
        task = headers.get("task")
        if task and self.MARK not in headers and self.copy(task):
            producer.publish(
                message.body,
                exchange=trace["exchange_name"],
                routing_key=trace["routing_keys"][0],
                headers={**headers, self.MARK: True},
                content_type=properties.get("content_type", "application/json"),
                content_encoding=properties.get("content_encoding", "utf-8"),
                **{
                    name: properties[name]
                    for name in (
                        "correlation_id",
                        "reply_to",
                        "delivery_mode",
                        "priority",
                        "user_id",
                    )
                    if name in properties
                },
            )
            self.copied[task] = self.copied.get(task, 0) + 1
        message.ack()
