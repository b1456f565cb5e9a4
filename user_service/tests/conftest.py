"""Fixtures of user_service's tests: tokens and profiles (the kit's plugin gives ``media``: a
bucket on moto's S3 server, then on gcp-storage-emulator)."""

from __future__ import annotations

from typing import Any

import pytest
from profiles import accounts
from profiles.models import Profile

from platform_tools.testing.stubs import upstream_stub

from .factories import ProfileFactory
from .helpers import AccountsStub, Api


@pytest.fixture(autouse=True)
def auth_accounts(settings, monkeypatch):
    """auth_service's account read replaced by a local HTTP stub for every test (empty: a user
    no event made here is nobody's, unless the test adds the account), with this service's own
    token stood in for."""
    monkeypatch.setattr(accounts, "service_token", lambda: "svc-user-token")
    with upstream_stub(settings, "auth", AccountsStub()) as stub:
        yield stub


@pytest.fixture
def profile(db) -> Profile:
    return ProfileFactory.create(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", phone="+442071234567"
    )


@pytest.fixture
def as_user(client, mint):
    """``as_user(profile)``: an Api acting with that user's customer token."""

    def make(profile: Profile, **claims: Any) -> Api:
        claims.setdefault("roles", ["customer"])
        headers = mint.headers(user_id=str(profile.user_id), email=profile.email, **claims)
        return Api(client, headers)

    return make


@pytest.fixture
def api(as_user, profile) -> Api:
    """The owner of ``profile``."""
    return as_user(profile)
