"""Fixtures of product_service's tests: tokens by role, a fresh catalogue cache per test, and a
real S3 protocol server (moto)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from catalogue.cache import generation_bump
from moto.server import ThreadedMotoServer

from service_kit.testing.tokens import TokenMint

from .helpers import S3, S3_KEYS, Api


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache():
    # The cache outlives each test's database transaction: start every test at a generation
    # no earlier test has stored answers under.
    generation_bump()


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
    bucket = f"products-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["access_key"],
        aws_secret_access_key=S3_KEYS["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)  # django-storages does not create buckets
    settings.STORAGES = {
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
    return S3(endpoint_url=s3_server, bucket=bucket, client=client)
