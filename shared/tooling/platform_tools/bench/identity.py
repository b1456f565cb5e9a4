"""Benchmark 3: what identity costs — token verification per request, and the same endpoint
read anonymously and with a token (auth_service issuing, product_service verifying)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service_kit.platform import BY_NAME

from .report import bars
from .runner import Context, Row, register
from .services import exists, seed_products

PASSWORD = "Bench-Password-1234"  # noqa: S105 - a benchmark account's password on a private loopback stack

#: Run in product_service's shell: microseconds per verification, crypto alone and in full.
VERIFY_CODE = """
import json, time, jwt
from service_kit.auth.verify import keyset, verify_token
from platform_tools.testing.tokens import TokenMint
mint = TokenMint().install()
token = mint.token(email="bench@example.com", roles=["customer"])
key = keyset.get(mint.kid)
def per_call(fn, n):
    for _ in range(200):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6
from django.core.cache import cache
pyjwt = per_call(lambda: jwt.decode(token, key, algorithms=["RS256"], audience="platform",
                                    options={"verify_iss": False}), 3000)
full = per_call(lambda: verify_token(token), 3000)
trip = per_call(lambda: cache.get_many(["auth:jwks:version", "auth:revoked:jti:x"]), 3000)
print(json.dumps({"pyjwt": pyjwt, "full": full, "trip": trip}))
"""


def _shell(context: Context, service, code: str, **env: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, argv built here
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=service.path,
        env=context.harness.env_for(service, **env),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"{service.name} shell failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def plot(rows: list[Row], path: Path) -> None:
    measured = [r for r in rows if "req/s (c=8)" in r]
    labels = [r["case"] for r in measured]
    bars(
        path,
        labels,
        {
            "requests/s at c=8 (higher is better)": {"": [r["req/s (c=8)"] for r in measured]},
            "p50 latency at c=1, ms (lower is better)": {"": [r["p50 ms (c=1)"] for r in measured]},
        },
        "GET /api/v1/products/ on product_service, anonymous vs with a bearer token",
    )


@register("identity cost", slug="identity", plot=plot)
def identity_cost(context: Context) -> list[Row]:
    auth, product = BY_NAME["auth"], BY_NAME["product"]
    if not (exists(auth) and exists(product)):
        context.note("auth_service or product_service missing: skipped")
        return []
    harness = context.harness
    costs = json.loads(_shell(context, product, VERIFY_CODE))
    rows: list[Row] = [
        {
            "case": "kit verify_token(): RS256, claims, revocations (one cache trip)",
            "µs per token": costs["full"],
        },
        {"case": "  of which the cache round trip", "µs per token": costs["trip"]},
        {"case": "PyJWT decode alone, for reference", "µs per token": costs["pyjwt"]},
    ]

    auth_web = harness.start_web(auth, JWT_AUTO_KEY="1")
    _shell(
        context,
        auth,
        "from accounts.models import User\n"
        f"User.objects.filter(email='bench@example.com').exists() or "
        f"User.objects.create_user('bench@example.com', '{PASSWORD}')\nprint(1)",
    )
    import urllib3

    answer = urllib3.request(
        "POST",
        f"{auth_web.url}/api/v1/auth/token/",
        json={"email": "bench@example.com", "password": PASSWORD},
        timeout=10,
    )
    token = answer.json()["access"]
    harness.migrate(product)
    seeded = seed_products(harness, product)
    web = harness.start_web(
        product, migrate=False, JWT_JWKS_URL=f"{auth_web.url}/.well-known/jwks.json"
    )
    url = f"{web.url}/api/v1/products/"
    results = {}
    for case, headers in (
        ("anonymous", None),
        ("bearer token", {"Authorization": f"Bearer {token}"}),
    ):
        status = urllib3.request("GET", url, headers=headers, timeout=5).status
        if status != 200:
            raise RuntimeError(f"{case} read answered {status}")
        results[case] = context.measure(url, headers=headers)
    base = results["anonymous"]
    for case, runs in results.items():
        rows.append(
            {
                "case": case,
                "p50 ms (c=1)": runs[1].p50_ms,
                "req/s (c=8)": runs[8].rps,
                "x anonymous req/s": runs[8].rps / base[8].rps,
                "added p50 ms": runs[1].p50_ms - base[1].p50_ms,
                "errors": sum(r.errors + r.non_2xx for r in runs.values()),
            }
        )
    context.note(
        f"Token verification measured in product_service's process ({harness.profile} profile: "
        "the revocation check is one cache round trip). Throughput: the product list "
        f"({seeded} products, page of 20) under granian 1x4; the token comes from a running "
        "auth_service."
    )
    return rows
