"""user_service: profiles, addresses, avatars, preferences. Everything else comes from the kit."""

from service_kit.conf import env, service_settings

globals().update(
    service_settings(
        service="user",
        apps=["profiles"],
        # auth_service's user events: profiles follow the accounts (profiles/handlers.py).
        consumes=["user.registered", "user.updated", "user.deactivated", "user.erased"],
        # Avatars (stored in the default storage: S3 when S3_BUCKET is set, local disk otherwise).
        AVATAR_MAX_BYTES=env.int("AVATAR_MAX_BYTES", 2 * 1024 * 1024),
        AVATAR_MAX_DIMENSION=env.int("AVATAR_MAX_DIMENSION", 4096),
    )
)
