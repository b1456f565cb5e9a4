"""Fixtures of inventory_service's tests: tokens and the callers of the API."""

from __future__ import annotations

import uuid

import pytest

from service_kit.testing.tokens import TokenMint

from .helpers import Api


@pytest.fixture(scope="session")
def _mint_key() -> TokenMint:
    # An RSA key takes a while to make: one for the run, installed again for every test.
    return TokenMint()


@pytest.fixture
def mint(_mint_key) -> TokenMint:
    """Tokens signed in-process; this process's verifier trusts the mint's key."""
    return _mint_key.install()


@pytest.fixture
def as_role(client, mint):
    """``as_role("inventory_manager")``: an Api acting with a staff token of that role."""

    def make(*roles: str, email: str = "stock@example.com", user_id: str | None = None) -> Api:
        headers = mint.headers(
            user_id=user_id or str(uuid.uuid4()),
            email=email,
            roles=list(roles),
            is_staff=any(role != "customer" for role in roles),
        )
        return Api(client, headers)

    return make


@pytest.fixture
def manager(as_role) -> Api:
    return as_role("inventory_manager", email="manager@example.com")
