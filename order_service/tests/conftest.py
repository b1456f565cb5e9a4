"""Fixtures of order_service's tests: tokens, callers of the API, a catalogue stand-in."""

from __future__ import annotations

import socket
import uuid

import pytest

from platform_tools.testing.stubs import reset_breaker, upstream_stub
from platform_tools.testing.tokens import TokenMint

from .helpers import Api, CatalogueStub


@pytest.fixture(scope="session")
def _mint_key() -> TokenMint:
    # An RSA key takes a while to make: one for the run, installed again for every test.
    return TokenMint()


@pytest.fixture
def mint(_mint_key) -> TokenMint:
    """Tokens signed in-process; this process's verifier trusts the mint's key."""
    return _mint_key.install()


@pytest.fixture
def as_user(client, mint):
    """``as_user("customer", user_id=...)``: an Api acting with a token of those roles."""

    def make(*roles: str, email: str = "ada@example.com", user_id: str | None = None) -> Api:
        headers = mint.headers(
            user_id=user_id or str(uuid.uuid4()),
            email=email,
            roles=list(roles or ("customer",)),
            is_staff=any(role != "customer" for role in roles),
        )
        return Api(client, headers)

    return make


@pytest.fixture
def customer(as_user) -> Api:
    return as_user("customer", email="ada@example.com")


@pytest.fixture
def catalogue(settings):
    """product_service replaced by a local HTTP stub for the batch read."""
    with upstream_stub(settings, "product", CatalogueStub()) as stub:
        yield stub


@pytest.fixture
def catalogue_down(settings):
    """product_service not listening at all (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.UPSTREAMS = {**settings.UPSTREAMS, "product": f"http://127.0.0.1:{port}"}
    reset_breaker("product")
    yield
    reset_breaker("product")
