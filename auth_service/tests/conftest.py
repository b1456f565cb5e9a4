"""auth_service's fixtures: one signing key per run, a clean shared cache per test, fast
password hashing (Argon2 is proven in one test), JSON helpers and the outbox."""

from __future__ import annotations

import math
import tempfile
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache
from keys import services as key_services

from platform_tools.testing import backing
from platform_tools.testing.processes import wait_for
from service_kit.auth import KEYSET_VERSION_KEY, keyset
from service_kit.conf import data_dir
from service_kit.models import OutboxMessage

from .factories import StaffFactory


def pytest_configure(config):
    config.addinivalue_line("markers", "real_hasher: hash passwords with the configured hashers")


@pytest.fixture(autouse=True)
def fast_password_hasher(request, settings):
    if request.node.get_closest_marker("real_hasher") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Login-failure counters and revocations of one test never reach the next."""
    if settings.CACHES["default"]["KEY_PREFIX"] == backing.cache_prefix():
        backing.flush_cache_prefix()  # this run's keys on the shared Redis, nobody else's
    elif str(data_dir()).startswith(tempfile.gettempdir()):
        cache.clear()  # the embedded profile's file cache, in this run's temporary folder


@pytest.fixture(scope="session")
def signing_kid() -> str:
    """One RSA key for the run (generating one per test is slow), its private half where
    auth_service keeps them."""
    kid = f"test-{uuid.uuid4().hex[:8]}"
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (key_services.keys_dir() / f"{kid}.pem").write_bytes(pem)
    return kid


@pytest.fixture(autouse=True)
def signing_key(db, signing_kid, fresh_cache) -> str:
    """The run's key is the active one in this test's database, and the verifier reads it."""
    key_services.key_rotate(kid=signing_kid)
    key_services._active.clear()  # on_commit never fires inside a test's transaction
    keyset.invalidate(cache.get(KEYSET_VERSION_KEY))
    return signing_kid


@pytest.fixture
def api(client):
    """JSON requests: ``api.post(path, body, token=access)``."""

    class Api:
        def request(self, method, path, body=None, *, token=None, **extra):
            if token:
                extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            if body is not None:
                extra.update(data=body, content_type="application/json")
            return getattr(client, method)(path, **extra)

        def get(self, path, **kwargs):
            return self.request("get", path, **kwargs)

        def post(self, path, body=None, **kwargs):
            return self.request("post", path, {} if body is None else body, **kwargs)

        def delete(self, path, body=None, **kwargs):
            return self.request("delete", path, body, **kwargs)

        def sign_in(self, email, password):
            response = self.post("/api/v1/auth/token/", {"email": email, "password": password})
            assert response.status_code == 200, response.content
            return response.json()

    return Api()


@pytest.fixture
def outbox():
    """The payloads written to the outbox for one event type, oldest first."""

    def events(event_type: str) -> list[dict]:
        messages = OutboxMessage.objects.filter(routing_key=event_type).order_by("created_at")
        for message in messages:
            assert message.kind == OutboxMessage.Kind.EVENT
            assert message.name == f"events.{event_type}"
            assert message.envelope["type"] == event_type
            assert message.envelope["producer"] == "auth"
        return [message.envelope["data"] for message in messages]

    return events


@pytest.fixture
def next_second():
    """Wait for the next second: a revocation refuses every token whose ``iat`` (whole seconds)
    is not after it, so a token issued in the same second as the revocation is refused too."""

    def wait() -> None:
        second = math.floor(time.time()) + 1
        wait_for(lambda: time.time() >= second, 2, interval=0.005, what="the next second")

    return wait


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(email="root@example.com", is_superuser=True))
    return client


def change_form(user, **changes) -> dict:
    """The admin's change form of ``user`` as it stands, with ``changes``."""
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [group.pk for group in user.groups.all()],
        "reason": "test: access reviewed",  # asked when roles or staff flags change
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}
