"""user_service: profiles, addresses, avatars, preferences. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="user",
        apps=["profiles"],
    )
)
