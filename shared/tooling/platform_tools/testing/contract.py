"""Reusable contract tests: a service points them at its own endpoints.

    # product_service/tests/test_contract.py
    from platform_tools.testing.contract import error_contract_test

    test_error_contract = error_contract_test(read="/api/v1/products/")

Every case checks the status, the stable ``code`` and the exact error body of the API contract
(``{"error": {"code", "message", "details"}}``), JSON content type and ``X-Request-ID``.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class ErrorCase:
    id: str
    method: str
    path: str
    status: int
    code: str
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def error_cases(
    *, read: str | None = None, write: str | None = None, max_body: int = 10 * 1024 * 1024
) -> list[ErrorCase]:
    """The cases for a service whose anonymous-readable list is ``read`` and whose write
    endpoint (any, protected or not) is ``write``; defaults cover the kit's own routes."""
    target = write or read or "/api/v1/"
    cases = [
        ErrorCase("unknown-path", "get", "/api/v1/no-such-resource/", 404, "not_found"),
        ErrorCase("unknown-root-path", "get", "/no-such-page", 404, "not_found"),
        ErrorCase("healthz-post", "post", "/healthz", 405, "method_not_allowed"),
        ErrorCase("malformed-json", "post", target, 400, "parse_error", b'{"name": '),
        ErrorCase("json-not-utf8", "post", target, 400, "parse_error", b'{"a": "\xff"}'),
        ErrorCase(
            "form-body",
            "post",
            target,
            415,
            "unsupported_media_type",
            b"a=1",
            "application/x-www-form-urlencoded",
        ),
        ErrorCase(
            "text-body", "post", target, 415, "unsupported_media_type", b"hello", "text/plain"
        ),
        ErrorCase(
            "too-large",
            "post",
            target,
            413,
            "payload_too_large",
            b"[" + b"0," * (max_body // 2) + b"0]",
        ),
    ]
    if read:
        cases.append(ErrorCase("read-delete", "delete", read, 405, "method_not_allowed"))
        cases.append(ErrorCase("bad-page", "get", f"{read}?page=999999", 404, "not_found"))
    return cases


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    assert response.get("X-Request-ID")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body


def error_contract_test(*, read: str | None = None, write: str | None = None):
    """A parametrized pytest test of the error contract on this service's endpoints."""
    from django.conf import settings

    cases = error_cases(read=read, write=write, max_body=settings.MAX_REQUEST_BODY_SIZE)

    @pytest.mark.django_db
    @pytest.mark.parametrize("case", cases, ids=[case.id for case in cases])
    def test_error_contract(client, case: ErrorCase):
        kwargs = {"HTTP_X_REQUEST_ID": f"contract-{case.id}"}
        if case.body is not None:
            kwargs.update(data=case.body, content_type=case.content_type)
        response = getattr(client, case.method)(case.path, **kwargs)
        assert_error(response, case.status, case.code)
        assert response["X-Request-ID"] == f"contract-{case.id}"

    return test_error_contract


# -- the token matrix --------------------------------------------------------------------------


TOKEN_CASE_IDS = (
    "no-token",
    "malformed",
    "wrong-scheme",
    "tampered-payload",
    "expired",
    "alg-none",
    "hs256-with-public-key",
    "wrong-audience",
    "wrong-issuer",
    "unknown-kid",
    "revoked-jti",
    "refresh-as-access",
    "service-token-without-scope",
)


@functools.cache
def _stranger(mint_type: type):
    """One stranger's key per run: an RSA key takes seconds to make on a busy machine."""
    return mint_type()


def token_cases(mint, *, service_status: int = 403) -> list[tuple[str, str | None, int, str]]:
    """(case id, Authorization header or None, expected status, expected code)."""
    from service_kit.auth.verify import revoke_jti

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    user = mint.claims(email="matrix@example.com", roles=["customer"])
    revoked = mint.claims(email="revoked@example.com", roles=["customer"])
    revoke_jti(revoked["jti"], revoked["exp"])
    stranger = _stranger(type(mint))  # a key the verifier has never seen
    bad = 401
    return [
        ("no-token", None, bad, "not_authenticated"),
        ("malformed", "Bearer not.a.jwt", bad, "token_not_valid"),
        ("wrong-scheme", f"Basic {mint.sign(user)}", bad, "token_not_valid"),
        ("tampered-payload", bearer(mint.tampered(user, roles=["admin"])), bad, "token_not_valid"),
        (
            "expired",
            bearer(mint.sign({**user, "exp": int(time.time()) - 60})),
            bad,
            "token_not_valid",
        ),
        ("alg-none", bearer(mint.unsigned(user)), bad, "token_not_valid"),
        ("hs256-with-public-key", bearer(mint.hs256_with_public_key(user)), bad, "token_not_valid"),
        (
            "wrong-audience",
            bearer(mint.sign({**user, "aud": "someone-else"})),
            bad,
            "token_not_valid",
        ),
        (
            "wrong-issuer",
            bearer(mint.sign({**user, "iss": "https://evil.example"})),
            bad,
            "token_not_valid",
        ),
        ("unknown-kid", bearer(stranger.sign(user)), bad, "token_not_valid"),
        ("revoked-jti", bearer(mint.sign(revoked)), bad, "token_not_valid"),
        (
            "refresh-as-access",
            bearer(mint.sign({**user, "token_type": "refresh"})),
            bad,
            "token_not_valid",
        ),
        (
            "service-token-without-scope",
            bearer(mint.token(client_id="order", scopes=["unrelated:scope"])),
            service_status,
            "permission_denied",
        ),
    ]


def token_matrix_test(
    path: str,
    *,
    method: str = "get",
    body: dict | None = None,
    service_status: int = 403,
    roles: tuple[str, ...] = ("customer",),
):
    """A parametrized pytest test: every bad token at ``path`` is refused with its code, and a
    good one is not (so the matrix itself can fail). ``roles``: those of the good token (staff
    roles make it ``is_staff``); a role-protected endpoint also refuses a customer (403)."""
    staff = tuple(roles) != ("customer",)
    ids = [*TOKEN_CASE_IDS, "valid-token", *(["customer-token"] if staff else [])]

    @pytest.mark.django_db
    @pytest.mark.parametrize("case_id", ids)
    def test_token_matrix(client, mint, case_id):
        # the plugin's mint: the run's one signing key, trusted by this process for the test
        # GET sends no body (the test client would turn one into a query string)
        kwargs = (
            {}
            if method == "get"
            else {"content_type": "application/json", "data": json.dumps(body or {})}
        )
        if case_id == "valid-token":
            token = mint.token(roles=list(roles), is_staff=staff)
            response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)
            assert response.status_code not in (401, 403), response.content[:300]
            return
        if case_id == "customer-token":
            token = mint.token(roles=["customer"])
            response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)
            assert_error(response, 403, "permission_denied")
            return
        cases = {case[0]: case for case in token_cases(mint, service_status=service_status)}
        assert set(cases) == set(TOKEN_CASE_IDS)
        _, header, status, code = cases[case_id]
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = getattr(client, method)(path, **extra, **kwargs)
        assert_error(response, status, code)
        if status == 401:
            assert response["WWW-Authenticate"].startswith("Bearer")

    return test_token_matrix
