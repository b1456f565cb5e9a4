"""``make smoke SMOKE_URL=https://...``: a deployed platform, checked through its gateway.

    python -m platform_tools.testing.smoke https://staging.shop.example.com [--wait 120]

In order: the gateway is alive and every service behind it ready (waiting up to ``--wait``
seconds for a release that is still starting), auth's JWKS, a catalogue read, and a throwaway
customer registered, signed in (its access token verified against that JWKS), read back with
``/api/v1/auth/me/`` and erased again. Each check prints one line; the first that fails ends the
run with exit status 1 and says what was asked, what was expected and what came back. Every
request carries one ``X-Request-ID`` (printed), to find the run in the platform's logs.

HTTPS is verified with the system's CA certificates (``SSL_CERT_FILE`` names another bundle).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

REQUEST_ID_HEADER = "X-Request-ID"


class SmokeFailure(Exception):
    """A check failed: the message says what was asked and what came back."""


@dataclass
class Answer:
    method: str
    path: str
    status: int
    headers: Any
    body: Any  # parsed JSON, or the text when it is not JSON

    def __str__(self) -> str:
        detail = self.body
        if isinstance(detail, dict) and isinstance(detail.get("error"), dict):
            detail = f"{detail['error'].get('code')}: {detail['error'].get('message')}"
        elif not isinstance(detail, str):
            detail = json.dumps(detail)
        return f"{self.method} {self.path} answered {self.status} {detail[:300]}".rstrip()

    def expect(self, status: int) -> Answer:
        if self.status != status:
            retry = self.headers.get("Retry-After") if self.status == 429 else None
            suffix = f" (throttled: retry after {retry} s)" if retry else ""
            raise SmokeFailure(f"{self}{suffix}; expected {status}")
        return self


class Gateway:
    """JSON over HTTP(S) to one base URL, every request tagged with this run's request id."""

    def __init__(self, url: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.request_id = f"smoke-{secrets.token_hex(8)}"

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Answer:
        headers = {
            "Accept": "application/json",
            "User-Agent": "platform-smoke",
            REQUEST_ID_HEADER: self.request_id,
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmokeFailure(f"{method} {path}: {self.url} is unreachable: {reason}") from exc
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Answer(method, path, status, answer_headers, parsed)


# -- the checks ------------------------------------------------------------------------------------


def page_of(answer: Answer) -> dict:
    body = answer.body if isinstance(answer.body, dict) else {}
    if not isinstance(body.get("results"), list) or not isinstance(body.get("count"), int):
        raise SmokeFailure(f"{answer}; expected a page: {{count, next, previous, results}}")
    return body


class Smoke:
    """The checks, in order; each answers a line to print or raises :class:`SmokeFailure`."""

    CHECKS = ("ready", "jwks", "catalogue", "register", "sign_in", "me", "erase")

    def __init__(self, gateway: Gateway, *, wait: float = 60.0, domain: str = "example.com"):
        self.gateway = gateway
        self.wait = wait
        self.domain = domain
        self.keys: jwt.PyJWKSet | None = None
        self.email = self.password = self.user_id = self.access = ""

    def ready(self) -> str:
        """``/healthz`` then ``/status`` (every upstream's ``/readyz``) 200, retried for ``wait``
        seconds (pods still starting)."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                self.gateway.call("GET", "/healthz").expect(200)
                answer = self.gateway.call("GET", "/status")
                body = answer.body if isinstance(answer.body, dict) else {}
                if answer.status == 200:
                    names = ", ".join(sorted(body.get("upstreams") or {}))
                    # From outside the cluster the gateway says no more than its status.
                    return f"every upstream ready: {names or 'names for the cluster only'}"
                failed = body.get("failed")
                raise SmokeFailure(
                    f"GET /status answered {answer.status}, not ready: {', '.join(failed)}"
                    if failed
                    else f"{answer}; expected 200"
                )
            except SmokeFailure:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(2)

    def jwks(self) -> str:
        answer = self.gateway.call("GET", "/.well-known/jwks.json").expect(200)
        try:
            self.keys = jwt.PyJWKSet.from_dict(answer.body)
        except (jwt.PyJWTError, TypeError, AttributeError) as exc:
            raise SmokeFailure(f"{answer}: not a usable JSON Web Key Set ({exc})") from exc
        if not all(key.key_id for key in self.keys.keys):
            raise SmokeFailure(f"{answer}: a key has no kid")
        return "keys " + ", ".join(key.key_id for key in self.keys.keys)

    def catalogue(self) -> str:
        products = page_of(self.gateway.call("GET", "/api/v1/products/?page_size=1").expect(200))
        categories = page_of(
            self.gateway.call("GET", "/api/v1/categories/?page_size=1").expect(200)
        )
        return f"{products['count']} products, {categories['count']} categories"

    def register(self) -> str:
        self.email = f"smoke-{secrets.token_hex(6)}@{self.domain}"
        self.password = f"Smoke-{secrets.token_urlsafe(18)}-9"
        answer = self.gateway.call(
            "POST", "/api/v1/auth/register/", {"email": self.email, "password": self.password}
        ).expect(201)
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("email") != self.email or not body.get("id"):
            raise SmokeFailure(f"{answer}; expected {{id, email: {self.email}}}")
        self.user_id = str(body["id"])
        return f"throwaway customer {self.email}"

    def sign_in(self) -> str:
        """The token pair; the access token must verify against the JWKS served above."""
        answer = self.gateway.call(
            "POST", "/api/v1/auth/token/", {"email": self.email, "password": self.password}
        ).expect(200)
        body = answer.body if isinstance(answer.body, dict) else {}
        if not body.get("access") or not body.get("refresh"):
            raise SmokeFailure(f"{answer}; expected {{access, refresh}}")
        self.access = body["access"]
        try:
            kid = jwt.get_unverified_header(self.access).get("kid")
            claims = jwt.decode(
                self.access,
                self.keys[kid].key,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "jti"]},
            )
        except KeyError as exc:
            raise SmokeFailure(f"the access token's kid {exc} is not in the JWKS") from exc
        except jwt.PyJWTError as exc:
            raise SmokeFailure(f"the access token does not verify against the JWKS: {exc}") from exc
        if str(claims.get("user_id")) != self.user_id or claims.get("token_type") != "access":
            raise SmokeFailure(f"the access token's claims are not the new customer's: {claims}")
        return f"access token signed by {kid}"

    def me(self) -> str:
        answer = self.gateway.call("GET", "/api/v1/auth/me/", token=self.access).expect(200)
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("email") != self.email or str(body.get("id")) != self.user_id:
            raise SmokeFailure(f"{answer}; expected the customer {self.email}")
        if answer.headers.get(REQUEST_ID_HEADER) != self.gateway.request_id:
            raise SmokeFailure(f"{answer} without this run's {REQUEST_ID_HEADER}")
        return f"{self.email} reads back"

    def erase(self) -> str:
        erase = {"password": self.password}
        self.gateway.call("DELETE", "/api/v1/auth/me/", erase, token=self.access).expect(204)
        self.access = ""
        return f"{self.email} erased"

    def run(self) -> bool:
        url = self.gateway.url
        print(f"smoke: {url} ({REQUEST_ID_HEADER}: {self.gateway.request_id})", flush=True)
        for name in self.CHECKS:
            started = time.monotonic()
            try:
                detail = getattr(self, name)()
            except SmokeFailure as failure:
                print(f"FAIL {name:<10} {failure}", flush=True)
                if self.access:  # no throwaway account left behind, if it can be helped
                    with contextlib.suppress(SmokeFailure):
                        self.gateway.call(
                            "DELETE",
                            "/api/v1/auth/me/",
                            {"password": self.password},
                            token=self.access,
                        )
                print(f"\nsmoke: FAILED against {url}", file=sys.stderr)
                return False
            ms = (time.monotonic() - started) * 1000
            print(f"ok   {name:<10} {ms:6.0f} ms  {detail}", flush=True)
        print(f"\nsmoke: passed against {url}")
        return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platform_tools.testing.smoke", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", nargs="?", help="the gateway's base URL")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for readiness")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--email-domain", default="example.com", help="the throwaway's domain")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no URL: make smoke SMOKE_URL=https://<the gateway's address>")
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        parser.error(f"{args.url!r} is not an http(s) URL")
    smoke = Smoke(Gateway(args.url, timeout=args.timeout), wait=args.wait, domain=args.email_domain)
    return 0 if smoke.run() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
