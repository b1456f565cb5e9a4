"""Fixtures of user_service's tests: tokens, profiles, and a real S3 protocol server (moto)."""

from __future__ import annotations

from typing import Any

import pytest
from profiles.factories import ProfileFactory
from profiles.models import Profile

from .helpers import Api


@pytest.fixture
def profile(db) -> Profile:
    return ProfileFactory(
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
