"""Benchmark 4: what the gateway costs in front of a service, against nginx as the reference.

One product_service process (granian, its production command) serves an authenticated GET of a
product detail, reached three ways in one run: (a) directly, (b) through the gateway in its
production configuration (its production command; throttling, revocation, breaker, metrics and
logging on, with budgets high enough never to refuse), (c) through nginx (the Debian package,
installed here when missing) with a keep-alive upstream pool. The rounds interleave the three
(``BENCH_ROUNDS``, default 2), and each keeps its best round.

Targets (issue 4): the gateway keeps at least 0.8x the direct throughput at concurrency 8, and adds
at most 1 ms to the median latency at concurrency 1.
"""

from __future__ import annotations

import getpass
import math
import os
import shutil
import subprocess
from pathlib import Path

import urllib3

from platform_tools.testing.processes import Harness, Proc, free_port
from service_kit.platform import BY_NAME

from .loadgen import Load
from .report import bars
from .runner import Context, Row, register
from .services import exists, seed, seed_products

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PASSWORD = "Bench-Password-1234"  # noqa: S105 - a benchmark account's password on a private loopback stack
EMAIL = "bench-gateway@example.com"
TARGET_RATIO = 0.8  # gateway req/s ÷ direct req/s at c=8, at least
TARGET_ADDED_P50_MS = 1.0  # gateway p50 - direct p50 at c=1, at most
#: Budgets no run of the bench can spend (the counting still happens on every request).
UNSPENDABLE = "user=1000000000/min,anon=1000000000/min,auth=1000000000/min"

MAKE_USER = f"""
from accounts.models import User
User.objects.filter(email={EMAIL!r}).exists() or User.objects.create_user({EMAIL!r}, {PASSWORD!r})
print(1)
"""

NGINX_CONF = """\
# Made by platform_tools.bench.gateway: nginx in front of one product_service process.
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
{user}
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream product {{
        server {upstream};
        keepalive 32;
        keepalive_requests 100000;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://product;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""


def edge_ready() -> bool:
    """The gateway's proxy is there: its WSGI entry point is the edge application."""
    wsgi = BY_NAME["gateway"].path / "gateway" / "wsgi.py"
    return wsgi.exists() and "EdgeApplication" in wsgi.read_text()


def ensure_nginx() -> tuple[str | None, str]:
    """nginx's path (installing the Debian package when root and it is missing), and how."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found, "nginx was installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "nginx is not installed and this is not root with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> bool:
        print(f"bench: apt-get {' '.join(args)}", flush=True)
        return subprocess.run(["apt-get", *args], env=env, capture_output=True).returncode == 0  # noqa: S603, S607 - apt-get from PATH, argv from constants and the caller's package names

    installed = apt("install", "-y", "-q", "nginx") or (
        apt("update", "-q") and apt("install", "-y", "-q", "nginx")
    )
    found = shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:" + os.environ.get("PATH", ""))
    if installed and found:
        return found, "nginx was installed by the bench (apt-get install nginx)"
    return None, "apt-get install nginx failed"


def nginx_version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True)  # noqa: S603 - argv built here from a found binary and fixed arguments
    return (result.stderr or result.stdout).strip().removeprefix("nginx version: ")


def start_nginx(harness: Harness, binary: str, upstream: Proc) -> Proc:
    """nginx as a foreground process on a free loopback port, everything in a folder of its own."""
    folder = harness.folder / "nginx"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    # As root, nginx's workers would otherwise switch to "nobody", who cannot enter this folder.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(
            folder=folder, user=user, upstream=f"127.0.0.1:{upstream.port}", port=port
        )
    )
    test = subprocess.run(  # noqa: S603 - argv built here from a found binary and fixed arguments
        [binary, "-t", "-q", "-c", str(conf), "-e", str(folder / "error.log")],
        capture_output=True,
        text=True,
    )
    if test.returncode:
        raise RuntimeError(f"nginx refused its configuration:\n{test.stderr}")
    proc = Proc(
        "nginx",
        [binary, "-c", str(conf), "-e", str(folder / "error.log"), "-g", "daemon off;"],
        folder,
        dict(os.environ),
        harness.folder / "logs" / "nginx.log",
        port=port,
    ).start()
    harness.procs.append(proc)  # stopped with the rest, whatever happens
    return proc.wait_http("/healthz", timeout=20)


def get_token(auth: Proc) -> str:
    answer = urllib3.request(
        "POST",
        f"{auth.url}/api/v1/auth/token/",
        json={"email": EMAIL, "password": PASSWORD},
        timeout=10,
    )
    if answer.status != 200:
        raise RuntimeError(f"auth_service gave no token ({answer.status}): {answer.data[:300]!r}")
    return answer.json()["access"]


def detail_path(product: Proc) -> str:
    """A product detail from the first page of the list (whatever the detail's key is)."""
    listing = urllib3.request("GET", f"{product.url}/api/v1/products/", timeout=10)
    first = listing.json()["results"][0]
    return f"/api/v1/products/{first['id']}/"


def command(proc: Proc) -> str:
    """A process's command line as a reader wants it: program name, no address."""
    args = [Path(proc.command[0]).name]
    skip = False
    for arg in proc.command[1:]:
        if skip:
            skip = False
        elif arg in ("--host", "--port", "-b", "--bind"):
            skip = True
        else:
            args.append(arg)
    return " ".join(args)


def row(path: str, runs: list[dict[int, Load]], direct: Row | None) -> Row:
    """The best round (highest req/s, lowest latencies) of one way in, and its ratios to (a)."""
    best: Row = {
        "path": path,
        "req/s (c=1)": max(r[1].rps for r in runs),
        "p50 ms (c=1)": min(r[1].p50_ms for r in runs),
        "p99 ms (c=1)": min(r[1].p99_ms for r in runs),
        "req/s (c=8)": max(r[8].rps for r in runs),
        "p50 ms (c=8)": min(r[8].p50_ms for r in runs),
        "p99 ms (c=8)": min(r[8].p99_ms for r in runs),
    }
    base = direct or best
    best["x direct req/s (c=8)"] = best["req/s (c=8)"] / base["req/s (c=8)"]
    best["x direct req/s (c=1)"] = best["req/s (c=1)"] / base["req/s (c=1)"]
    best["added p50 ms (c=1)"] = best["p50 ms (c=1)"] - base["p50 ms (c=1)"]
    best["req/s (c=8) per round"] = " / ".join(f"{r[8].rps:.0f}" for r in runs)
    best["errors"] = sum(load.errors + load.non_2xx for r in runs for load in r.values())
    return best


def plot(rows: list[Row], path: Path) -> None:
    labels = [r["path"] for r in rows]
    bars(
        path,
        labels,
        {
            "requests/s (higher is better)": {
                "c=1": [r["req/s (c=1)"] for r in rows],
                "c=8": [r["req/s (c=8)"] for r in rows],
            },
            "p50 latency, ms (lower is better)": {
                "c=1": [r["p50 ms (c=1)"] for r in rows],
                "c=8": [r["p50 ms (c=8)"] for r in rows],
            },
            "throughput ÷ direct at c=8 (target ≥ 0.8 for the gateway)": {
                "c=8": [r["x direct req/s (c=8)"] for r in rows],
            },
        },
        "Authenticated GET of a product detail: direct, through the gateway, through nginx",
    )


@register("gateway overhead", slug="gateway", plot=plot)
def gateway_overhead(context: Context) -> list[Row]:
    auth, product, gateway = BY_NAME["auth"], BY_NAME["product"], BY_NAME["gateway"]
    if not all(exists(s) for s in (auth, product, gateway)):
        context.note("auth_service, product_service or gateway missing: skipped")
        return []
    if not edge_ready():
        context.note("the gateway's proxy (EdgeApplication in gateway/wsgi.py) is not there yet")
        return []
    harness = context.harness

    auth_web = harness.start_web(auth, JWT_AUTO_KEY="1", JWT_ACCESS_TOKEN_LIFETIME="3600")  # noqa: S106 - a lifetime in seconds, not a secret
    seed(harness, auth, MAKE_USER)
    token = get_token(auth_web)
    identity = {
        "AUTH_SERVICE_URL": auth_web.url,
        "JWT_JWKS_URL": f"{auth_web.url}/.well-known/jwks.json",
    }
    harness.migrate(product)
    seeded = seed_products(harness, product)
    upstream = harness.start_web(product, migrate=False, **identity)
    path = detail_path(upstream)
    edge = harness.start_web(
        gateway,
        **identity,
        PRODUCT_SERVICE_URL=upstream.url,
        READYZ_UPSTREAMS="auth,product",
        GATEWAY_THROTTLES=UNSPENDABLE,
    )
    binary, how = ensure_nginx()
    ways: dict[str, Proc] = {"(a) direct": upstream, "(b) gateway": edge}
    if binary:
        ways["(c) nginx"] = start_nginx(harness, binary, upstream)
    else:
        context.note(f"nginx: {how}; the reference row is missing")

    headers = {"Authorization": f"Bearer {token}"}
    for name, proc in ways.items():
        status = urllib3.request("GET", proc.url + path, headers=headers, timeout=10).status
        if status != 200:
            raise RuntimeError(f"{name}: GET {path} answered {status}")

    rounds: dict[str, list[dict[int, Load]]] = {name: [] for name in ways}
    for number in range(ROUNDS):
        for name, proc in ways.items():
            rounds[name].append(
                context.measure(proc.url + path, warm_up=number == 0, headers=headers)
            )
    direct = row("(a) direct", rounds["(a) direct"], None)
    rows = [direct] + [
        row(name, runs, direct) for name, runs in rounds.items() if name != "(a) direct"
    ]

    through = rows[1]
    ratio, added = through["x direct req/s (c=8)"], through["added p50 ms (c=1)"]
    context.note(
        f"Targets for the gateway: >= {TARGET_RATIO}x direct throughput at c=8: {ratio:.2f}x "
        f"({'met' if ratio >= TARGET_RATIO else 'NOT met'}); <= {TARGET_ADDED_P50_MS:g} ms added "
        f"p50 at c=1: {added:+.2f} ms ({'met' if added <= TARGET_ADDED_P50_MS else 'NOT met'})."
    )
    if len(rows) > 2:
        context.note(
            f"nginx (reference): {rows[2]['x direct req/s (c=8)']:.2f}x direct at c=8, "
            f"{rows[2]['added p50 ms (c=1)']:+.2f} ms p50 at c=1 ({nginx_version(binary)}, {how}; "
            "1 worker process, keep-alive pool of 32 to the upstream, access log off)."
        )
    context.note(
        f"GET {path} (one of {seeded} seeded products) with a customer's bearer token; "
        "product_service verifies it in every case. Catalogue reads are public routes at the "
        "edge: the gateway charges the client address's budget (one Redis trip) and passes the "
        "token on; protected routes verify it there too. One product_service process (granian "
        f"1 worker x 4 threads); the gateway: {command(edge)}; wrk on the same "
        f"{len(os.sched_getaffinity(0))} cores. Best of {ROUNDS} interleaved rounds; "
        "'req/s (c=8) per round' shows the spread."
    )
    if not math.isfinite(ratio):
        raise RuntimeError("no throughput measured")
    return rows
