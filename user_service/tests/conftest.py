"""Fixtures of user_service's tests: tokens, profiles, and a real S3 protocol server (moto)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer
from profiles.factories import ProfileFactory
from profiles.models import Profile

from service_kit.testing.tokens import TokenMint

from .helpers import S3, S3_KEYS, Api


@pytest.fixture(scope="session")
def _mint_key() -> TokenMint:
    # An RSA key takes a while to make: one for the run, installed again for every test.
    return TokenMint()


@pytest.fixture
def mint(_mint_key) -> TokenMint:
    """Tokens signed in-process; this process's verifier trusts the mint's key."""
    return _mint_key.install()


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


# -- S3: moto's server, spoken to over HTTP like any S3 endpoint -----------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, settings) -> S3:
    """A fresh bucket, and Django's default storage pointed at it as the kit's S3 profile is."""
    bucket = f"avatars-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["access_key"],
        aws_secret_access_key=S3_KEYS["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)  # django-storages does not create buckets
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                **S3_KEYS,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "querystring_auth": True,  # as in production: presigned URLs
                "file_overwrite": False,
            },
        },
    }
    # Through pytest-django's settings (not a nested override_settings): it undoes every change
    # of a test in reverse order, so a test's own settings changes cannot bring S3 back later.
    settings.STORAGES = storages
    return S3(endpoint_url=s3_server, bucket=bucket, client=client)
