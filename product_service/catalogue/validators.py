"""Rules on single values, shared by the model fields (hence the admin's forms) and the API."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError

from .currencies import CURRENCY_CODES

#: A SKU: letters, digits, ``-``, ``_`` and ``.``, starting with a letter or digit.
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: Attributes are a small description document (colour, size, material), not a data store.
ATTRIBUTES_MAX_KEYS = 50
ATTRIBUTES_MAX_BYTES = 16 * 1024
ATTRIBUTE_NAME_MAX_LENGTH = 64


def validate_sku(value: str) -> None:
    if not SKU_PATTERN.match(value or ""):
        raise ValidationError(
            "A SKU has letters, digits, '-', '_' and '.', and starts with a letter or digit.",
            code="invalid_sku",
        )


def validate_currency(value: str) -> None:
    if value not in CURRENCY_CODES:
        raise ValidationError(
            "Enter an ISO 4217 currency code in capitals, like EUR or USD.",
            code="invalid_currency",
        )


def validate_not_uuid(value: str) -> None:
    """Products and categories are found by id or slug: a slug must never read as an id."""
    try:
        uuid.UUID(value)
    except ValueError:
        return
    raise ValidationError("A slug must not look like an id (a UUID).", code="slug_is_uuid")


def validate_attributes(value: Any) -> None:
    """A JSON object of at most 50 named values, 16 KiB in all."""
    if not isinstance(value, dict):
        raise ValidationError("Attributes are a JSON object.", code="attributes_not_object")
    if len(value) > ATTRIBUTES_MAX_KEYS:
        raise ValidationError(
            f"A product has at most {ATTRIBUTES_MAX_KEYS} attributes.", code="attributes_too_many"
        )
    if any(not key or len(key) > ATTRIBUTE_NAME_MAX_LENGTH for key in value):
        raise ValidationError(
            f"Attribute names have 1 to {ATTRIBUTE_NAME_MAX_LENGTH} characters.",
            code="attribute_name",
        )
    if len(json.dumps(value).encode()) > ATTRIBUTES_MAX_BYTES:
        raise ValidationError(
            f"Attributes take at most {ATTRIBUTES_MAX_BYTES} bytes.", code="attributes_too_large"
        )
