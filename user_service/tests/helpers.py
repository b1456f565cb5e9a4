"""Helpers of user_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

from service_kit.testing.api import Api, envelope, image_bytes

__all__ = ["Api", "envelope", "png_bytes", "upload"]


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "red", noise: bool = False) -> bytes:
    return image_bytes(size, color=color, noise=noise)


def upload(api: Api, content: bytes, name: str = "avatar.png", content_type: str = "image/png"):
    """``PUT me/avatar/`` as a browser's form sends it (multipart, field ``avatar``)."""
    return api.upload(
        "/api/v1/users/me/avatar/",
        content,
        field="avatar",
        name=name,
        content_type=content_type,
        method="put",
    )
