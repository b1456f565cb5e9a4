"""auth_service, as user_service reads it: one account by id, for a profile whose
``user.registered`` has not been applied here yet (``services.profile_from_account``).

``GET /api/v1/auth/users/{user_id}/`` with this service's own token (``accounts:read``), through
the kit's :class:`ServiceClient` (timeouts, retries of this GET, the per-upstream circuit
breaker). An unknown account is ``None``. No answer at all raises the kit's
``UpstreamUnavailable`` (503) or ``UpstreamTimeout`` (504); so does an answer we cannot use
(this service's identity refused included).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from service_kit.api import UpstreamUnavailable
from service_kit.auth import service_token
from service_kit.http import ServiceClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    user_id: UUID
    email: str
    first_name: str
    last_name: str
    is_active: bool
    is_erased: bool


def account_get(*, user_id: UUID) -> Account | None:
    """auth_service's account with this id (deactivated and erased ones too), or None."""
    client = ServiceClient("auth", token_provider=service_token)
    response = client.get(f"/api/v1/auth/users/{user_id}/")
    if response.status == 404:
        return None
    if response.status != 200:
        logger.warning("accounts.read_failed", extra={"status": response.status})
        raise UpstreamUnavailable(
            details={"upstream": "auth", "reason": f"status_{response.status}"}
        )
    try:
        body = response.json()
        if UUID(str(body["id"])) != user_id:
            raise ValueError("another account's id")
        fields = (body["email"], body["first_name"], body["last_name"])
        if not all(isinstance(value, str) for value in fields):
            raise TypeError("a name or email that is not a string")
        if not isinstance(body["is_active"], bool):
            raise TypeError("is_active is not a boolean")
        return Account(user_id, *fields, body["is_active"], body["erased_at"] is not None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("accounts.bad_answer", extra={"error": str(exc)[:200]})
        raise UpstreamUnavailable(details={"upstream": "auth", "reason": "bad_answer"}) from exc
