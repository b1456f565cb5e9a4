"""System checks of profiles' settings (registered in ProfilesConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

AVATAR_SETTINGS = ("AVATAR_MAX_BYTES", "AVATAR_MAX_DIMENSION")


@checks.register()
def avatar_settings_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    for name in AVATAR_SETTINGS:
        value = getattr(settings, name, None)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(
                checks.Error(
                    f"{name} must be a positive whole number, not {value!r}.",
                    id="profiles.E001",
                )
            )
    max_bytes = getattr(settings, "AVATAR_MAX_BYTES", None)
    body_limit = getattr(settings, "MAX_REQUEST_BODY_SIZE", None)
    if isinstance(max_bytes, int) and isinstance(body_limit, int) and max_bytes > body_limit:
        # The kit's body middleware answers 413 first, without the avatar's own limit in it.
        problems.append(
            checks.Warning(
                "AVATAR_MAX_BYTES is larger than MAX_REQUEST_BODY_SIZE: such uploads are "
                "refused before the avatar check sees them.",
                hint="Raise MAX_REQUEST_BODY_SIZE or lower AVATAR_MAX_BYTES.",
                id="profiles.W001",
            )
        )
    return problems
