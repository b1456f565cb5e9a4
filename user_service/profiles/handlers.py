"""auth_service's user events (docs/architecture.md#identity, docs/messages.md).

The kit runs each handler in a transaction with its inbox record, drops redelivered messages,
retries a handler that raises and dead-letters it in the end; handlers only call services.
"""

from __future__ import annotations

from uuid import UUID

from service_kit.messaging import Envelope, event_handler

from . import services


@event_handler("user.registered")
def on_user_registered(envelope: Envelope) -> None:
    data = envelope.data
    services.profile_register(
        user_id=UUID(data["user_id"]),
        email=data["email"],
        first_name=data.get("first_name") or "",
        last_name=data.get("last_name") or "",
    )


@event_handler("user.updated")
def on_user_updated(envelope: Envelope) -> None:
    data = envelope.data
    if data.get("email"):
        services.profile_email_update(user_id=UUID(data["user_id"]), email=data["email"])


@event_handler("user.deactivated")
def on_user_deactivated(envelope: Envelope) -> None:
    services.profile_deactivate(user_id=UUID(envelope.data["user_id"]))


@event_handler("user.erased")
def on_user_erased(envelope: Envelope) -> None:
    services.profile_erase(user_id=UUID(envelope.data["user_id"]))
