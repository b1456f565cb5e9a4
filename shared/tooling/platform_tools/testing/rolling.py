"""A rolling restart of the whole platform under load, as Kubernetes runs one: the end-to-end test
(``shared/e2e/test_rolling_restart.py``) and the benchmark (``platform_tools.bench.restart``)
share it.

:func:`second_instances` gives a :class:`~.stack.Stack` two instances of every web process and
every worker: a service's two web processes share one port (``SO_REUSEPORT``, as two pods behind
one Service), its two workers the same queues. The gateway's two instances listen on ports of
their own, and :class:`Load` (the customers' side) sends to the instances in its list, as a
Service sends to its ready endpoints. :func:`restart_in_turn` then gives each instance SIGTERM and
starts it again (round one: the first instance of every process, round two: the second); a
gateway instance leaves the customers' list before its SIGTERM, as Kubernetes takes a terminating
pod out of its endpoints, and gets it once its requests in flight have finished.

:class:`Load` sends orders and catalogue reads at steady rates through the gateway and keeps each
request's outcome and latency (from its scheduled time, so a request that waited for a free
sender counts its wait), labelled with the phase it was due in.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from service_kit.platform import BY_NAME

from .api import SHIPPING_ADDRESS
from .processes import Proc, free_port, node_named, wait_for
from .stack import Stack

SKU = "ROLL-MUG"
PRICE = "12.50"
PASSWORD = "Correct-Horse-Battery-9"
FINAL = frozenset({"CONFIRMED", "REJECTED", "CANCELLED", "FAILED", "REFUNDED"})
#: The saga's deadlines far beyond what a loaded machine needs for a step plus a restart: an
#: order that fails here was lost, not late.
TIMERS = {
    "ORDER_RESERVE_DEADLINE": "40",
    "ORDER_PAYMENT_DEADLINE": "40",
    "ORDER_DEADLINE_CHECK_INTERVAL": "1",
    "ORDER_RESERVATION_EXPIRY": "120",
    "PAYMENT_PROVIDER_TIMEOUT": "2",
}
ORDERS_PER_SECOND = 10
READS_PER_SECOND = 100
#: Each request's answer is awaited this long at most (seconds).
REQUEST_TIMEOUT = 30
#: How long :meth:`Load.flowing` waits for the load to flow (seconds).
FLOWING_TIMEOUT = 120.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # "order" or "read"
    phase: str
    ok: bool
    ms: float  # from the request's scheduled time to its answer
    detail: str  # the order's id, or what failed


class Load:
    """Requests at steady rates from threads, each one's outcome kept."""

    def __init__(self, endpoints: list[str], token: str, product_id: str):
        self.endpoints = list(endpoints)  # the gateway instances customers are sent to
        self.token = token
        self.product_id = product_id
        self.phase = "steady"
        self.outcomes: list[Outcome] = []
        self.in_flight: Counter[str] = Counter()  # per endpoint
        self.served: Counter[str] = Counter()  # successful answers, per endpoint
        #: per (kind, phase): requests due but not sent before the stop
        self.unsent: Counter[tuple[str, str]] = Counter()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.turn = 0
        self.threads: list[threading.Thread] = []

    # -- what was seen ---------------------------------------------------------------------
    @property
    def failures(self) -> list[str]:
        with self.lock:
            return [f"{o.kind} ({o.phase}): {o.detail}" for o in self.outcomes if not o.ok]

    @property
    def orders(self) -> list[str]:
        with self.lock:
            return self.orders_placed()

    def orders_placed(self) -> list[str]:
        """The ids of the orders placed (the caller holds the lock)."""
        return [o.detail for o in self.outcomes if o.kind == "order" and o.ok]

    def count(self, kind: str, *, phase: str | None = None, ok: bool | None = None) -> int:
        with self.lock:
            return sum(
                1
                for o in self.outcomes
                if o.kind == kind and phase in (None, o.phase) and ok in (None, o.ok)
            )

    def phase_rows(self, phase: str) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if o.phase == phase]

    # -- sending ---------------------------------------------------------------------------
    def endpoint(self) -> str:
        with self.lock:
            self.turn += 1
            url = self.endpoints[self.turn % len(self.endpoints)]
            self.in_flight[url] += 1
            return url

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            headers.update(
                {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            )
            data = json.dumps(body).encode()
        url = self.endpoint()
        request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                answer = json.loads(response.read() or b"null")
            with self.lock:
                self.served[url] += 1
            return response.status, answer
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")[:300]
        except (OSError, ValueError) as error:  # no answer, or not JSON: failed all the same
            return 0, repr(error)
        finally:
            with self.lock:
                self.in_flight[url] -= 1

    def _keep(self, kind: str, phase: str, due: float, ok: bool, detail: str) -> None:
        ms = (time.monotonic() - due) * 1000
        with self.lock:
            self.outcomes.append(Outcome(kind, phase, ok, ms, detail))

    def order(self, due: float, phase: str) -> None:
        body = {
            "lines": [{"product_id": self.product_id, "quantity": 1}],
            "shipping_address": SHIPPING_ADDRESS,
            "payment_token": "tok_visa",
        }
        status, answer = self.request("POST", "/api/v1/orders/", body)
        ok = status == 201
        self._keep("order", phase, due, ok, answer["id"] if ok else f"{status} {answer}")

    def read(self, due: float, phase: str) -> None:
        status, answer = self.request("GET", "/api/v1/products/?search=roll")
        self._keep("read", phase, due, status == 200, "" if status == 200 else f"{status} {answer}")

    def paced(self, work: Callable[[float, str], None], rate: float, threads: int) -> None:
        """``work(due, phase)`` started ``rate`` times a second (a pool of ``threads`` does it)
        until :meth:`stop`: each request is due at its time and belongs to the phase then. A
        request still waiting for a free thread at the stop is not sent (counted in ``unsent``)."""

        def run():
            with ThreadPoolExecutor(max_workers=threads) as pool:
                started = time.monotonic()
                due_count = 0
                while not self.stopping.is_set():
                    due = started + due_count / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    pool.submit(unless_stopped, due, self.phase)
                    due_count += 1

        def unless_stopped(due: float, phase: str) -> None:
            if self.stopping.is_set():
                with self.lock:
                    self.unsent[work.__name__, phase] += 1
            else:
                work(due, phase)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(self, orders: float = ORDERS_PER_SECOND, reads: float = READS_PER_SECOND) -> Load:
        # threads enough for answers taking seconds on a loaded machine: the senders should not
        # be what holds the requests back
        self.paced(self.order, orders, threads=32)
        self.paced(self.read, reads, threads=96)
        return self

    def stop(self) -> None:
        """No new request; every one sent has its answer (or its timeout) when this returns."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT * 2)
        wait_for(lambda: not +self.in_flight, timeout=REQUEST_TIMEOUT, what="requests in flight")

    def flowing(self, *, answers: int = 20, orders: int = 4) -> None:
        """Wait until, from now, every endpoint gave ``answers`` successful answers and
        ``orders`` orders were placed: each gateway instance serves, the saga moves."""
        with self.lock:
            served, placed = Counter(self.served), len(self.orders_placed())

        def enough() -> bool:
            with self.lock:
                return len(self.orders_placed()) - placed >= orders and all(
                    self.served[url] - served[url] >= answers for url in self.endpoints
                )

        wait_for(enough, FLOWING_TIMEOUT, interval=0.2, what="every gateway serving, orders placed")


# -- the platform ------------------------------------------------------------------------------
def again(stack: Stack, proc: Proc, generation: int) -> Proc:
    """``proc`` started again as it was (command, folder, environment), logging to a file of
    its own so that waiting for it to be ready reads only this start."""
    log = proc.log.with_name(f"{proc.log.stem}.{generation}.log")
    new = Proc(proc.name, proc.command, proc.cwd, proc.env, log, port=proc.port).start()
    stack.harness.procs.append(new)
    return new


def ready(proc: Proc) -> Proc:
    if proc.name.endswith(".web"):
        return proc.wait_http(timeout=180)
    return proc.wait_log(" ready.", timeout=180)


def stocked_product(stack: Stack, on_hand: int, sku: str = SKU) -> str:
    """A product made in product_service and, once inventory_service heard of it, ``on_hand``
    units of it in stock: its id."""
    product_id = stack.shell(
        "product",
        "from decimal import Decimal\nfrom catalogue.services import product_create\n"
        f"print(product_create(sku={sku!r}, name='Roll mug', price=Decimal({PRICE!r})).pk)",
    )
    wait_for(
        lambda: stack.query("inventory", "SELECT 1 FROM stock_stockitem WHERE sku = %s", (sku,)),
        timeout=60,
        what=f"{sku} in inventory",
    )
    stack.query(
        "inventory",
        "UPDATE stock_stockitem SET on_hand = %s WHERE sku = %s RETURNING 1",
        (on_hand, sku),
    )
    return product_id


def customer_token(stack: Stack) -> str:
    """A customer registered and signed in through the gateway: the access token."""
    email = f"roll-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": PASSWORD}
    status, answer = post(stack.gateway.url, "/api/v1/auth/register/", account)
    if status != 201:
        raise RuntimeError(f"register: {status} {answer}")
    status, answer = post(stack.gateway.url, "/api/v1/auth/token/", account)
    if status != 200:
        raise RuntimeError(f"token: {status} {answer}")
    return answer["access"]


def second_instances(stack: Stack) -> tuple[dict[str, Proc], dict[str, Proc]]:
    """The stack's processes (``<service>.web``, ``<service>.worker``) and a second, ready,
    instance of each: web processes on the same port (the gateway's on one of its own), workers
    on the same queues."""
    harness = stack.harness
    first = {
        **{f"{n}.web": p for n, p in stack.web.items()},
        **{f"{n}.worker": p for n, p in stack.workers.items()},
    }
    second: dict[str, Proc] = {}
    for name, proc in stack.web.items():
        port = free_port() if name == "gateway" else proc.port
        second[f"{name}.web"] = harness.start_web(
            BY_NAME[name], port=port, migrate=False, wait=False, **stack.env_for(name)
        )
    for name in stack.workers:
        service = BY_NAME[name]
        env = harness.env_for(
            service,
            **stack.env_for(name),
            PROMETHEUS_MULTIPROC_DIR=str(stack.folder / "metrics" / f"{name}.worker.2"),
        )
        proc = Proc(
            f"{name}.worker",
            node_named(service.worker_command(embedded_beat=False), f"{name}@second"),
            service.path,
            env,
            stack.folder / "logs" / f"{name}.worker.second.log",
        ).start()
        harness.procs.append(proc)
        second[f"{name}.worker"] = proc
    for proc in second.values():
        ready(proc)
    return first, second


def restart_in_turn(stack: Stack, load: Load, rounds: tuple[dict[str, Proc], ...]) -> None:
    """Each round's instances stopped with SIGTERM and started again, the round's gateway out of
    ``load``'s endpoints meanwhile; the dicts are updated with the new processes."""
    gateways = [instances["gateway.web"].url for instances in rounds]
    for generation, instances in enumerate(rounds, start=1):
        gateway = instances["gateway.web"].url
        with load.lock:  # out of the endpoints first, as Kubernetes does
            load.endpoints = [url for url in gateways if url != gateway]
        # requests already sent to it finish (its drain would too: this keeps them off it)
        wait_for(lambda: load.in_flight[gateway] <= 0, timeout=REQUEST_TIMEOUT, what="drained")  # noqa: B023
        for proc in instances.values():
            proc.signal(15)
        for proc in instances.values():
            try:
                proc.popen.wait(60)
            except subprocess.TimeoutExpired:
                alive = f"{proc.name} still runs 60 s after SIGTERM:\n{proc.tail()}"
                raise RuntimeError(alive) from None
        restarted = {key: again(stack, proc, generation) for key, proc in instances.items()}
        for proc in restarted.values():
            ready(proc)
        instances.update(restarted)
        with load.lock:
            load.endpoints = list(gateways)


def order_statuses(stack: Stack, ids: list[str]) -> dict[str, str]:
    rows = stack.query(
        "order", "SELECT id::text, status FROM orders_order WHERE id::text = ANY(%s)", (ids,)
    )
    return dict(rows)


def wait_final(stack: Stack, ids: list[str], timeout: float = 180) -> dict[str, str]:
    """Each order's status once every one is final."""
    if not ids:
        return {}

    def final():
        statuses = order_statuses(stack, ids)
        return len(statuses) == len(ids) and set(statuses.values()) <= FINAL and statuses

    return wait_for(final, timeout=timeout, interval=0.5, what="every order final")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def post(base: str, path: str, body: dict) -> tuple[int, dict | str]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
