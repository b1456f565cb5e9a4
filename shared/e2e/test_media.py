"""Media through the gateway on each backend: an avatar and a product image uploaded, read back by
their signed URLs (checked: signed by the service's credentials, expiring after an hour), and
the avatar gone once the customer erased the account.

``s3`` is the session's platform (moto's S3 server); ``gcs`` boots the services with media on
Google Cloud Storage (``MEDIA_BACKEND=gcs``: gcp-storage-emulator, which serves signed URLs
without checking them, and a service-account key made for the run that signs them), with the
gateway, auth_service, user_service and product_service only.
"""

from __future__ import annotations

import io
import shutil
import uuid

import pytest
import requests
from conftest import ARTIFACTS, MAKE_STAFF, PASSWORD, Api, new_customer, sign_in, wait_for
from PIL import Image

from platform_tools.testing.stack import Stack
from service_kit.platform import SERVICES

#: What the ``gcs`` platform runs: those that keep media, and those they need.
MEDIA_PLATFORM = ("gateway", "auth", "user", "product")
LIFETIME = 3600


def png(colour: str, size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module", params=["s3", "gcs"])
def platform(request, tmp_path_factory):
    if request.param == "s3":
        yield request.getfixturevalue("stack")
        return
    stack = Stack(
        tmp_path_factory.mktemp("platform-gcs"),
        media="gcs",
        services=[service for service in SERVICES if service.name in MEDIA_PLATFORM],
        prometheus=False,
        env={"READYZ_UPSTREAMS": ",".join(MEDIA_PLATFORM[1:])},
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        logs = ARTIFACTS / "logs-gcs"
        shutil.rmtree(logs, ignore_errors=True)
        if (stack.folder / "logs").exists():
            shutil.copytree(stack.folder / "logs", logs)


def test_an_avatar_is_stored_served_by_its_signed_url_and_erased(platform):
    gateway = platform.gateway.url
    email, created, pair = new_customer(gateway, first_name="Mae")
    me = Api(gateway, pair["access"])
    wait_for(lambda: me.get("/api/v1/users/me/")[0] == 200, what="the profile")
    picture = png("orange")

    status, profile = me.call(
        "PUT", "/api/v1/users/me/avatar/", files={"avatar": ("me.png", picture, "image/png")}
    )

    assert status == 200, profile
    bucket = platform.media_bucket("user")
    folder = f"avatars/{created['id']}/"
    (key,) = [key for key in bucket.names() if key.startswith(folder)]
    assert profile["avatar_url"].split("?")[0] == bucket.object_url(key)
    bucket.check_signed(profile["avatar_url"], lifetime=LIFETIME)
    assert requests.get(profile["avatar_url"], timeout=10).content == picture
    assert bucket.body(key) == picture

    # user.erased reaches user_service: the avatar leaves the bucket.
    again = Api(gateway, sign_in(gateway, email)["access"])
    again.ok("DELETE", "/api/v1/auth/me/", {"password": PASSWORD}, expect=204)
    wait_for(
        lambda: not [key for key in bucket.names() if key.startswith(folder)],
        what="the avatar deleted by the erasure",
    )


def test_a_product_image_is_stored_and_served_by_its_signed_url(platform):
    gateway = platform.gateway.url
    merchandiser = f"media-{uuid.uuid4().hex[:8]}@example.com"
    people = [(merchandiser, ("catalogue_manager",))]
    platform.shell("auth", MAKE_STAFF.format(people=people, password=PASSWORD))
    merch = Api(gateway, sign_in(gateway, merchandiser)["access"])
    slug = f"media-{uuid.uuid4().hex[:8]}"
    category = merch.ok("POST", "/api/v1/categories/", {"name": slug, "slug": slug}, expect=201)
    product = merch.ok(
        "POST",
        "/api/v1/products/",
        {
            "sku": slug.upper(),
            "name": "Media mug",
            "price": "9.90",
            "category": category["id"],
            "description": "A mug with a picture.",
        },
        expect=201,
    )
    picture = png("navy", size=48)

    image = merch.ok(
        "POST",
        f"/api/v1/products/{product['id']}/images/",
        data={"alt": "A navy mug"},
        files={"image": ("mug.png", picture, "image/png")},
        expect=201,
    )

    bucket = platform.media_bucket("product")
    key = f"products/{product['id']}/{uuid.UUID(image['id']).hex}.png"
    assert key in bucket.names()
    shown = Api(gateway).ok("GET", f"/api/v1/products/{product['id']}/")["images"]
    assert [(entry["id"], entry["alt"]) for entry in shown] == [(image["id"], "A navy mug")]
    for url in (image["url"], shown[0]["url"]):
        assert url.split("?")[0] == bucket.object_url(key)
        bucket.check_signed(url, lifetime=LIFETIME)
        assert requests.get(url, timeout=10).content == picture
