"""``settings.ADMIN_SSO`` with its defaults (read at run time)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Who checks what is typed at the sign-in: a CredentialChecker's dotted path. None: the one
    # an app registered with use_credentials() (auth_service's), else auth_service over REST.
    "CREDENTIALS": None,
    # Seconds an admin session lives without a request; None: as long as a deactivation marker
    # lives in the shared cache (see sessions.revocation_lifetime), so none can be missed.
    "IDLE_TIMEOUT": None,
}


def sso_settings() -> dict[str, Any]:
    return {**DEFAULTS, **getattr(settings, "ADMIN_SSO", {})}
