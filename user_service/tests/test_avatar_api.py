"""``PUT|DELETE /api/v1/users/me/avatar/`` against real storage servers over HTTP: every test runs
on S3 (moto's server) and on Google Cloud Storage (gcp-storage-emulator), the ``media`` fixture."""

import io
import urllib.request

import pytest
from PIL import Image

from platform_tools.testing.contract import assert_error

from .helpers import png_bytes, upload

pytestmark = pytest.mark.django_db

AVATAR = "/api/v1/users/me/avatar/"


def image_bytes(image_format: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (16, 16), "blue").save(buffer, format=image_format)
    return buffer.getvalue()


def test_a_png_is_stored_in_the_bucket_and_its_url_serves_it(
    media, api, profile, django_capture_on_commit_callbacks
):
    content = png_bytes()

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, content, name="me.png")

    assert response.status_code == 200, response.content
    (key,) = media.names()
    assert key.startswith(f"avatars/{profile.user_id}/") and key.endswith(".png")
    assert media.body(key) == content
    assert media.content_type(key) == "image/png"
    body = response.json()
    assert body == {
        "id": str(profile.user_id),
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+442071234567",
        "preferences": {},
        "avatar_url": body["avatar_url"],
    }
    assert body["avatar_url"].split("?")[0] == media.object_url(key)
    media.check_signed(body["avatar_url"], lifetime=3600)  # signed by us, for an hour
    with urllib.request.urlopen(body["avatar_url"], timeout=5) as fetched:  # presigned: works
        assert fetched.read() == content
    profile.refresh_from_db()
    assert profile.avatar.name == key
    assert api.get("/api/v1/users/me/").json()["avatar_url"].split("?")[0] == (
        media.object_url(key)
    )


@pytest.mark.parametrize(
    ("image_format", "mode", "extension"),
    [("JPEG", "RGB", "jpg"), ("PNG", "RGBA", "png"), ("WEBP", "RGB", "webp")],
)
def test_jpeg_png_and_webp_are_accepted_and_named_by_their_content(
    media, api, image_format, mode, extension
):
    # The client's file name says .bin: the stored name comes from what the bytes are.
    response = upload(api, image_bytes(image_format, mode), name="upload.bin")

    assert response.status_code == 200, response.content
    (key,) = media.names()
    assert key.endswith(f".{extension}")


def test_replacing_the_avatar_deletes_the_old_file(
    media, api, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(api, png_bytes(color="red"))
    (old,) = media.names()
    new_content = png_bytes(color="green")

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, new_content)

    assert response.status_code == 200
    (new,) = media.names()
    assert new != old
    assert media.body(new) == new_content
    profile.refresh_from_db()
    assert profile.avatar.name == new


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (b"just some text, not a picture\n", "avatar.png", "image/png"),
        (b"GIF89a" + b"\x00" * 64, "avatar.gif", "image/gif"),
        (png_bytes()[:40], "truncated.png", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "avatar.svg", "image/svg+xml"),
    ],
    ids=["text-named-png", "gif", "truncated-png", "svg"],
)
def test_anything_but_a_jpeg_png_or_webp_image_is_refused_and_nothing_stored(
    media, api, profile, django_capture_on_commit_callbacks, content, name, content_type
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(api, png_bytes())
    before = media.names()

    response = upload(api, content, name=name, content_type=content_type)

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"avatar": ["Upload a JPEG, PNG or WebP image."]}
    assert media.names() == before
    profile.refresh_from_db()
    assert profile.avatar.name == before[0]


def test_a_real_gif_is_refused(media, api):
    response = upload(api, image_bytes("GIF"), name="a.gif", content_type="image/gif")

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"avatar": ["Upload a JPEG, PNG or WebP image."]}
    assert media.names() == []


def test_an_image_larger_than_the_limit_is_413_and_nothing_is_stored(media, api, settings):
    settings.AVATAR_MAX_BYTES = 4096
    content = png_bytes(size=(64, 64), noise=True)
    assert len(content) > 4096

    response = upload(api, content)

    body = assert_error(response, 413, "payload_too_large")
    assert body["error"]["details"] == {"max_bytes": 4096}
    assert body["error"]["message"] == "The avatar is larger than 4096 bytes."
    assert media.names() == []


def test_the_default_limit_is_two_mebibytes_and_an_image_just_over_it_is_refused(media, api):
    from django.conf import settings

    assert settings.AVATAR_MAX_BYTES == 2 * 1024 * 1024
    # A valid PNG padded past the limit (data after IEND is ignored by decoders).
    content = png_bytes() + b"\x00" * (2 * 1024 * 1024)

    body = assert_error(upload(api, content), 413, "payload_too_large")

    assert body["error"]["details"] == {"max_bytes": 2 * 1024 * 1024}
    assert media.names() == []


def test_an_image_wider_than_the_limit_is_refused(media, api, settings):
    settings.AVATAR_MAX_DIMENSION = 32

    response = upload(api, png_bytes(size=(33, 8)))

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"avatar": ["The image may be at most 32x32 pixels."]}
    assert media.names() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "No file was submitted."),
        (
            {"avatar": "not a file"},
            "The submitted data was not a file. Check the encoding type on the form.",
        ),
    ],
    ids=["no-field", "text-field"],
)
def test_a_form_without_the_file_is_a_validation_error(media, api, fields, message):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    response = api.client.put(
        AVATAR,
        data=encode_multipart(BOUNDARY, fields),
        content_type=MULTIPART_CONTENT,
        **api.headers,
    )

    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"avatar": [message]}


def test_an_empty_file_is_a_validation_error(media, api):
    body = assert_error(upload(api, b""), 400, "validation_error")

    assert body["error"]["details"] == {"avatar": ["The submitted file is empty."]}
    assert media.names() == []


def test_a_multipart_body_without_a_boundary_is_a_parse_error(api):
    response = api.client.put(
        AVATAR, data=b"avatar=1", content_type="multipart/form-data", **api.headers
    )

    assert_error(response, 400, "parse_error")


def test_json_is_not_an_upload(api):
    response = api.put(AVATAR, {"avatar": "data:image/png;base64,AAAA"})

    assert_error(response, 415, "unsupported_media_type")


def test_a_user_without_an_active_profile_stores_nothing(media, as_user, profile):
    profile.is_active = False
    profile.save()

    response = upload(as_user(profile), png_bytes())

    assert_error(response, 404, "not_found")
    assert media.names() == []


def test_deleting_the_avatar_removes_the_file(
    media, api, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(api, png_bytes())

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(AVATAR)

    assert response.status_code == 204
    assert media.names() == []
    assert api.get("/api/v1/users/me/").json()["avatar_url"] is None


def test_on_local_disk_the_avatar_url_is_absolute(api, profile, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_URL = "/media/"

    response = upload(api, png_bytes())

    assert response.status_code == 200
    profile.refresh_from_db()
    assert (tmp_path / profile.avatar.name).read_bytes() == png_bytes()
    assert response.json()["avatar_url"] == f"http://testserver/media/{profile.avatar.name}"
