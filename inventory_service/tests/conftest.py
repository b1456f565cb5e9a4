"""Fixtures of inventory_service's tests: tokens, the callers of the API, a catalogue
stand-in."""

from __future__ import annotations

import socket
import uuid

import pytest

from platform_tools.testing.stubs import upstream_stub

from .helpers import Api, CatalogueStub


@pytest.fixture(autouse=True)
def catalogue(settings):
    """product_service replaced by a local HTTP stub for every test (empty: a SKU no event made
    here is no product's, unless the test adds it)."""
    with upstream_stub(settings, "product", CatalogueStub()) as stub:
        yield stub


@pytest.fixture
def catalogue_down(settings, catalogue):
    """product_service not listening at all (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.UPSTREAMS = {**settings.UPSTREAMS, "product": f"http://127.0.0.1:{port}"}


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
