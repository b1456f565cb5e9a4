"""Fixtures of inventory_service's tests: tokens and the callers of the API."""

from __future__ import annotations

import uuid

import pytest

from .helpers import Api


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
