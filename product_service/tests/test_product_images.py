"""Product images: ``POST /api/v1/products/{id}/images/`` and ``DELETE …/images/{image_id}/``,
against real storage servers over HTTP (S3: moto; Google Cloud Storage: gcp-storage-emulator;
the ``media`` fixture), checked like avatars."""

import urllib.request

import pytest
from catalogue.models import ProductImage

from platform_tools.testing.contract import assert_error

from .factories import ProductFactory
from .helpers import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug():
    return ProductFactory(sku="MUG-1", slug="blue-mug")


def images_of(product) -> str:
    return f"/api/v1/products/{product.pk}/images/"


def test_an_image_is_stored_in_the_bucket_and_shown_on_the_product(
    media, manager, anonymous, mug, django_capture_on_commit_callbacks
):
    content = image_bytes("PNG", size=(40, 30))

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.upload(images_of(mug), content, name="mug.png", alt="A blue mug")

    assert response.status_code == 201, response.content
    image = ProductImage.objects.get()
    (key,) = media.names()
    assert key == f"products/{mug.pk}/{image.pk.hex}.png"
    assert media.body(key) == content
    assert media.content_type(key) == "image/png"
    assert (image.width, image.height, image.size, image.alt) == (
        40,
        30,
        len(content),
        "A blue mug",
    )
    body = response.json()
    assert body == {"id": str(image.pk), "url": body["url"], "alt": "A blue mug"}
    assert body["url"].split("?")[0] == media.object_url(key)
    media.check_signed(body["url"], lifetime=3600)  # signed by us, for an hour
    with urllib.request.urlopen(body["url"], timeout=5) as fetched:  # presigned: works
        assert fetched.read() == content
    shown = anonymous.get(f"/api/v1/products/{mug.pk}/").json()["images"]
    assert [(i["id"], i["alt"], i["url"].split("?")[0]) for i in shown] == [
        (str(image.pk), "A blue mug", media.object_url(key))
    ]


@pytest.mark.parametrize(
    ("image_format", "mode", "extension", "content_type"),
    [
        ("JPEG", "RGB", "jpg", "image/jpeg"),
        ("PNG", "RGBA", "png", "image/png"),
        ("WEBP", "RGB", "webp", "image/webp"),
    ],
)
def test_jpeg_png_and_webp_are_stored_as_what_their_bytes_are(
    media, manager, mug, image_format, mode, extension, content_type
):
    # The client says .bin and octet-stream: the name and type come from the content.
    response = manager.upload(
        images_of(mug),
        image_bytes(image_format, mode=mode),
        name="upload.bin",
        content_type="application/octet-stream",
    )

    assert response.status_code == 201, response.content
    (key,) = media.names()
    assert key.endswith(f".{extension}")
    assert media.content_type(key) == content_type


def test_images_are_listed_in_the_order_they_were_added(media, manager, anonymous, mug):
    ids = [
        manager.upload(images_of(mug), image_bytes(color=color), alt=color).json()["id"]
        for color in ("red", "green", "blue")
    ]

    shown = anonymous.get("/api/v1/products/blue-mug/").json()["images"]

    assert [(i["id"], i["alt"]) for i in shown] == list(
        zip(ids, ["red", "green", "blue"], strict=True)
    )


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (b"just some text, not a picture\n", "mug.png", "image/png"),
        (image_bytes("GIF"), "mug.gif", "image/gif"),
        (image_bytes("PNG")[:40], "truncated.png", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "mug.svg", "image/svg+xml"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "mug.pdf", "application/pdf"),
    ],
    ids=["text-named-png", "gif", "truncated-png", "svg", "pdf"],
)
def test_anything_but_a_jpeg_png_or_webp_is_400_and_nothing_is_stored(
    media, manager, mug, content, name, content_type
):
    response = manager.upload(images_of(mug), content, name=name, content_type=content_type)

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"image": ["Upload a JPEG, PNG or WebP image."]}
    assert media.names() == []
    assert ProductImage.objects.count() == 0


def test_an_image_over_the_limit_is_413_and_nothing_is_stored(media, manager, mug, settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = 4096
    content = image_bytes("PNG", size=(64, 64), noise=True)
    assert len(content) > 4096

    response = manager.upload(images_of(mug), content)

    body = assert_error(response, 413, "payload_too_large")
    assert body["error"]["message"] == "The image is larger than 4096 bytes."
    assert body["error"]["details"] == {"max_bytes": 4096}
    assert media.names() == []
    assert ProductImage.objects.count() == 0


def test_the_default_limit_is_five_mebibytes(media, manager, mug):
    from django.conf import settings

    assert settings.PRODUCT_IMAGE_MAX_BYTES == 5 * 1024 * 1024
    # A valid PNG padded past the limit (data after IEND is ignored by decoders).
    content = image_bytes("PNG") + b"\x00" * (5 * 1024 * 1024)

    body = assert_error(manager.upload(images_of(mug), content), 413, "payload_too_large")

    assert body["error"]["details"] == {"max_bytes": 5 * 1024 * 1024}
    assert media.names() == []


def test_an_image_wider_than_the_limit_is_refused(media, manager, mug, settings):
    settings.PRODUCT_IMAGE_MAX_DIMENSION = 32

    body = assert_error(
        manager.upload(images_of(mug), image_bytes(size=(33, 8))), 400, "validation_error"
    )

    assert body["error"]["details"] == {"image": ["The image may be at most 32x32 pixels."]}
    assert media.names() == []


def test_a_form_without_the_file_is_a_validation_error(media, manager, mug):
    response = manager.client.post(images_of(mug), data={"alt": "no file"}, **manager.headers)

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"image": ["No file was submitted."]}


def test_json_is_not_an_upload(manager, mug):
    assert_error(manager.post(images_of(mug), {"image": "AAAA"}), 415, "unsupported_media_type")


@pytest.mark.parametrize("role", ["customer", "support"])
def test_only_catalogue_managers_upload(media, as_role, mug, role):
    response = as_role(role).upload(images_of(mug), image_bytes())

    assert_error(response, 403, "permission_denied")
    assert media.names() == []


def test_a_product_has_at_most_twenty_images(media, manager, mug):
    for _ in range(20):
        assert manager.upload(images_of(mug), image_bytes()).status_code == 201

    body = assert_error(manager.upload(images_of(mug), image_bytes()), 409, "conflict")

    assert body["error"]["details"] == {"max_images": 20}
    assert len(media.names()) == 20


def test_an_unknown_product_stores_nothing(media, manager):
    response = manager.upload("/api/v1/products/no-such/images/", image_bytes())

    assert_error(response, 404, "not_found")
    assert media.names() == []


def test_deleting_an_image_removes_it_and_its_file(
    media, manager, anonymous, mug, django_capture_on_commit_callbacks
):
    image_id = manager.upload(images_of(mug), image_bytes()).json()["id"]
    anonymous.get(f"/api/v1/products/{mug.pk}/")  # cached with the image

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.delete(f"{images_of(mug)}{image_id}/")

    assert response.status_code == 204
    assert media.names() == []
    assert ProductImage.objects.count() == 0
    assert anonymous.get(f"/api/v1/products/{mug.pk}/").json()["images"] == []


def test_an_image_of_another_product_is_not_found(media, manager, mug):
    other = ProductFactory()
    image_id = manager.upload(images_of(other), image_bytes()).json()["id"]

    assert_error(manager.delete(f"{images_of(mug)}{image_id}/"), 404, "not_found")
    assert len(media.names()) == 1


def test_on_local_disk_the_image_url_is_absolute(manager, anonymous, mug, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_URL = "/media/"
    content = image_bytes()

    response = manager.upload(images_of(mug), content)

    assert response.status_code == 201
    image = ProductImage.objects.get()
    assert (tmp_path / image.file.name).read_bytes() == content
    assert response.json()["url"] == f"http://testserver/media/{image.file.name}"
