"""Fixtures of payment_service's tests: tokens, callers of the API, a quick sandbox."""

from __future__ import annotations

import uuid

import pytest

from platform_tools.testing.tokens import TokenMint

from .helpers import Api


@pytest.fixture(scope="session")
def _mint_key() -> TokenMint:
    # An RSA key takes a while to make: one for the run, installed again for every test.
    return TokenMint()


@pytest.fixture
def mint(_mint_key) -> TokenMint:
    return _mint_key.install()


@pytest.fixture(autouse=True)
def quick_sandbox(settings):
    """No latency, a short 'never answers', no backoff: the behaviour, not the waiting."""
    settings.PAYMENTS = {
        **settings.PAYMENTS,
        "SANDBOX_LATENCY": 0,
        "PROVIDER_TIMEOUT": 0.05,
        "PROVIDER_RETRY_BACKOFF": 0,
    }


@pytest.fixture
def as_user(client, mint):
    """``as_user("support")`` or ``as_user("customer", user_id=...)``: an Api with that token."""

    def make(*roles: str, user_id: str | None = None, email: str = "pay@example.com") -> Api:
        headers = mint.headers(
            user_id=user_id or str(uuid.uuid4()),
            email=email,
            roles=list(roles),
            is_staff=any(role != "customer" for role in roles),
        )
        return Api(client, headers)

    return make


@pytest.fixture
def order_service(client, mint) -> Api:
    """order_service's service identity, allowed to charge."""
    return Api(client, mint.headers(client_id="order", scopes=["payments:charge"]))
