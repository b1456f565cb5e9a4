"""System checks of the admin sign-in's settings."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register

from .conf import sso_settings
from .sessions import revocation_lifetime


@register(Tags.security)
def check_idle_timeout(app_configs, **kwargs):
    idle = sso_settings()["IDLE_TIMEOUT"]
    if idle and int(idle) > revocation_lifetime():
        return [
            Warning(
                f"ADMIN_SSO['IDLE_TIMEOUT'] ({idle}s) outlives the deactivation marker "
                f"({revocation_lifetime()}s): an idle session of a deactivated person could "
                "come back after the marker is gone.",
                hint="Leave IDLE_TIMEOUT unset, or raise JWT_ACCESS_TOKEN_LIFETIME.",
                id="admin_sso.W001",
            )
        ]
    return []
