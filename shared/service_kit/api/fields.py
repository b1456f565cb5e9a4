"""Serializer fields the services' APIs share."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import serializers


class UUIDListField(serializers.CharField):
    """``?ids=a,b,c``: comma-separated UUIDs, duplicates dropped (order kept), at most
    ``max_items`` (a batch read's size, 100 as the API contract's ``ids``
    filters: docs/api.md#pagination)."""

    def __init__(self, *, max_items: int = 100, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    # A CharField that answers a list: the return type is this field's, not CharField's.
    def to_internal_value(self, data: Any) -> list[uuid.UUID]:  # type: ignore[override]
        parts = [part.strip() for part in super().to_internal_value(data).split(",")]
        parts = [part for part in parts if part]
        if not parts:
            raise serializers.ValidationError("Give at least one id.")
        if len(parts) > self.max_items:
            raise serializers.ValidationError(f"At most {self.max_items} ids.")
        try:
            return list(dict.fromkeys(uuid.UUID(part) for part in parts))
        except ValueError:
            raise serializers.ValidationError("Ids are UUIDs, separated by commas.") from None
