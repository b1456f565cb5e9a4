"""The errors the catalogue raises, in the platform's vocabulary (codes: docs/api.md#errors)."""

from __future__ import annotations

from service_kit.api import Conflict, InvalidInput, NotFound, PayloadTooLarge

__all__ = [
    "CategoryInUse",
    "CategoryNotFound",
    "ImageNotFound",
    "ImageTooLarge",
    "InvalidInput",
    "ProductNotFound",
    "TooManyImages",
]


class ProductNotFound(NotFound):
    default_detail = "No such product."


class CategoryNotFound(NotFound):
    default_detail = "No such category."


class ImageNotFound(NotFound):
    default_detail = "No such image."


class CategoryInUse(Conflict):
    default_detail = "The category still has products or subcategories."


class TooManyImages(Conflict):
    default_detail = "The product has as many images as it may have: delete one first."


class ImageTooLarge(PayloadTooLarge):
    default_detail = "The image is too large."
