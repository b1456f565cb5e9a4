"""Staff sign in to every service's admin with their one auth_service identity.

The admin's login form (:class:`AdminLoginForm`) takes an email, a password and an optional
one-time code; a :class:`CredentialChecker` turns them into an :class:`Identity` (every service:
:class:`RemoteCredentials`, auth_service's token endpoint over REST, the access token verified
from the JWKS). :func:`admit` lets in staff only, and the roles of ``settings.MFA_ROLES``
only with a one-time code (``"otp"`` in the token's ``amr``). The person is signed in as a
shadow user (:func:`shadow_user_sync`) whose groups are their roles, each with the permissions
``ADMIN_ROLE_PERMISSIONS`` grants it (:func:`role_groups_sync`). :class:`AdminSessionMiddleware`
ends the session at the next admin request once auth_service has revoked the person
(:func:`service_kit.auth.revoke_user`). Switched on by :func:`service_kit.conf.service_settings`.
"""

from .conf import sso_settings
from .credentials import CredentialChecker, RemoteCredentials, credential_checker, use_credentials
from .forms import AdminLoginForm
from .identity import Identity, SignInRefused, admit
from .middleware import AdminSessionMiddleware
from .roles import (
    DEFAULT_ROLE_PERMISSIONS,
    permission_granted,
    role_groups_sync,
    role_permissions,
)
from .sessions import SESSION_KEY, idle_timeout, revocation_lifetime, sign_in_revoked
from .shadow import shadow_user_sync

__all__ = [
    "DEFAULT_ROLE_PERMISSIONS",
    "SESSION_KEY",
    "AdminLoginForm",
    "AdminSessionMiddleware",
    "CredentialChecker",
    "Identity",
    "RemoteCredentials",
    "SignInRefused",
    "admit",
    "credential_checker",
    "idle_timeout",
    "permission_granted",
    "revocation_lifetime",
    "role_groups_sync",
    "role_permissions",
    "shadow_user_sync",
    "sign_in_revoked",
    "sso_settings",
    "use_credentials",
]
