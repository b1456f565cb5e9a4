"""System checks of the admin sign-in's settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from service_kit.auth.verify import mfa_roles
from service_kit.roles import STAFF_ROLES

from .conf import sso_settings
from .roles import role_permission_patterns
from .sessions import revocation_lifetime


@register(Tags.security)
def check_idle_timeout(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
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


@register(Tags.security)
def check_role_names(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """A role the platform does not have (a typo) would grant or guard nothing, silently."""
    errors: list[CheckMessage] = []
    for setting, named in (
        ("ADMIN_ROLE_PERMISSIONS", role_permission_patterns()),
        ("MFA_ROLES", mfa_roles()),
    ):
        unknown = sorted(set(named) - set(STAFF_ROLES))
        if unknown:
            errors.append(
                Error(
                    f"{setting} names {', '.join(unknown)}, not a staff role of the platform.",
                    hint=f"Staff roles (service_kit.roles): {', '.join(STAFF_ROLES)}.",
                    obj=settings.SETTINGS_MODULE,
                    id="admin_sso.E001",
                )
            )
    return errors
