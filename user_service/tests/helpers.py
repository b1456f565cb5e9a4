"""Helpers of user_service's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from platform_tools.testing.api import Api, envelope, image_bytes
from platform_tools.testing.stubs import JsonStub

__all__ = ["AccountsStub", "Api", "envelope", "png_bytes", "upload"]

_ACCOUNT_PATH = re.compile(r"^/api/v1/auth/users/([^/]+)/$")


@dataclass
class AccountsStub(JsonStub):
    """A stand-in for auth_service's account read (the outside of this service): answers
    ``GET /api/v1/auth/users/{id}/`` from ``accounts`` (404 for another id), or with ``status``
    and ``body`` when set; records each request."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    body: Any = None

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        if self.body is not None or self.status != 200:
            return self.status, self.body or {}
        match = _ACCOUNT_PATH.match(request["path"])
        account = self.accounts.get(match.group(1)) if match else None
        if account is None:
            return 404, {
                "error": {"code": "not_found", "message": "No such account.", "details": {}}
            }
        return 200, account

    def add(self, *, active: bool = True, erased: bool = False, **fields: Any) -> dict[str, Any]:
        user_id = str(uuid.uuid4())
        self.accounts[user_id] = {
            "id": user_id,
            "email": "kim@example.com",
            "first_name": "Kim",
            "last_name": "Lee",
            "is_active": active and not erased,
            "erased_at": "2026-01-01T00:00:00Z" if erased else None,
            **fields,
        }
        return self.accounts[user_id]


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
