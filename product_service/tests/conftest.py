"""Fixtures of product_service's tests: tokens by role and a fresh catalogue cache per test (the
kit's plugin gives ``mint`` and ``media``: a bucket on moto's S3 server, then on
gcp-storage-emulator)."""

from __future__ import annotations

import pytest
from catalogue.cache import generation_bump

from .helpers import Api


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    # The cache outlives each test's database transaction: start every test at a generation
    # no earlier test has stored answers under.
    generation_bump()


@pytest.fixture
def as_role(client, mint):
    """``as_role("catalogue_manager")``: an Api acting with a token carrying those roles."""

    def make(*roles: str, **claims) -> Api:
        claims.setdefault("is_staff", any(role != "customer" for role in roles))
        headers = mint.headers(
            email=f"{'-'.join(roles) or 'nobody'}@example.com", roles=roles, **claims
        )
        return Api(client, headers)

    return make


@pytest.fixture
def anonymous(client) -> Api:
    return Api(client, {})


@pytest.fixture
def customer(as_role) -> Api:
    return as_role("customer")


@pytest.fixture
def manager(as_role) -> Api:
    return as_role("catalogue_manager")
