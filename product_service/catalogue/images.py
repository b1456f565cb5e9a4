"""Checking an uploaded picture before anything stores it.

The same rules as user_service's avatars (written again here: services never import each other;
this module has no catalogue import and could move to the kit as is). The size is checked first
(413), then the content (400), judged by Pillow's parsers and never by the file name or the
declared content type.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

from service_kit.api import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

#: The parsers that may look at an upload at all (Pillow's names).
IMAGE_PARSERS = ("JPEG", "PNG", "WEBP")
#: What those parsers may report → the extension the stored file gets. MPO is what many phone
#: cameras write: a JPEG with extra frames (Pillow's JPEG parser reports it).
IMAGE_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
IMAGE_TYPE_MESSAGE = "Upload a JPEG, PNG or WebP image."


@dataclass(frozen=True)
class CheckedImage:
    extension: str
    content_type: str
    width: int
    height: int
    size: int


def image_check(
    *,
    upload: Any,
    max_bytes: int,
    max_side: int,
    field: str = "image",
    too_large: type[PayloadTooLarge] = PayloadTooLarge,
) -> CheckedImage:
    """What ``upload`` (a Django uploaded file) is, or an error naming ``field``."""
    if upload.size > max_bytes:
        raise too_large(
            f"The image is larger than {max_bytes} bytes.", details={"max_bytes": max_bytes}
        )
    try:
        upload.seek(0)
        with warnings.catch_warnings():
            # Pillow only warns about a decompression bomb below twice its limit: refuse it too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=IMAGE_PARSERS) as image:
                image_format, (width, height) = image.format, image.size
                image.verify()  # reads the whole file: checksums, truncation
    except Exception as exc:  # Pillow's parsers raise many kinds of error on bad input
        logger.info("image.refused", extra={"reason": type(exc).__name__})
        raise InvalidInput(details={field: [IMAGE_TYPE_MESSAGE]}) from exc
    finally:
        upload.seek(0)
    if image_format not in IMAGE_FORMATS:
        raise InvalidInput(details={field: [IMAGE_TYPE_MESSAGE]})
    if width > max_side or height > max_side:
        raise InvalidInput(
            details={field: [f"The image may be at most {max_side}x{max_side} pixels."]}
        )
    extension = IMAGE_FORMATS[image_format]
    content_type = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[extension]
    return CheckedImage(extension, content_type, width, height, upload.size)
