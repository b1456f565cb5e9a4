"""Helpers of product_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

from platform_tools.testing.api import Api, published
from platform_tools.testing.api import image_bytes as kit_image_bytes

__all__ = ["Api", "events", "image_bytes"]


def image_bytes(
    image_format: str = "PNG",
    size: tuple[int, int] = (8, 8),
    color: str = "red",
    mode: str = "RGB",
    noise: bool = False,
) -> bytes:
    return kit_image_bytes(size, fmt=image_format, color=color, mode=mode, noise=noise)


def events(event_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The outbox, oldest first: (type, data) of each event."""
    return published(*([event_type] if event_type else []))
