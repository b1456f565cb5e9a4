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

Single sign-on (:mod:`.staff_sessions`, :mod:`.views`): a sign-in opens a staff session in
auth_service; the staff front page hands each admin a single-use ticket for it; every admin
checks the session's state at each request (:func:`staff_session_ended`).
"""

from .conf import sso_settings
from .credentials import CredentialChecker, RemoteCredentials, credential_checker, use_credentials
from .forms import AdminLoginForm
from .identity import INVALID_CREDENTIALS, THROTTLED, Identity, SignInRefused, admit
from .middleware import AdminSessionMiddleware, sign_out_here, staff_session_ended
from .roles import permission_granted, role_groups_sync, role_permissions
from .sessions import SESSION_KEY, idle_timeout, revocation_lifetime, sign_in_revoked
from .shadow import shadow_user_sync
from .staff_sessions import (
    BINDING_COOKIE,
    SESSION_LIFETIME,
    TICKET_LIFETIME,
    TICKET_TYPE,
    TicketRefused,
    session_binding,
    session_forget,
    session_publish,
    session_state,
    ticket_audience,
    ticket_redeem,
)
from .views import ADMIN_NOT_OPEN, admin_open, invalid_redirect, local_path

__all__ = [
    "ADMIN_NOT_OPEN",
    "BINDING_COOKIE",
    "INVALID_CREDENTIALS",
    "SESSION_KEY",
    "SESSION_LIFETIME",
    "THROTTLED",
    "TICKET_LIFETIME",
    "TICKET_TYPE",
    "AdminLoginForm",
    "AdminSessionMiddleware",
    "CredentialChecker",
    "Identity",
    "RemoteCredentials",
    "SignInRefused",
    "TicketRefused",
    "admin_open",
    "admit",
    "credential_checker",
    "idle_timeout",
    "invalid_redirect",
    "local_path",
    "permission_granted",
    "revocation_lifetime",
    "role_groups_sync",
    "role_permissions",
    "session_binding",
    "session_forget",
    "session_publish",
    "session_state",
    "shadow_user_sync",
    "sign_in_revoked",
    "sign_out_here",
    "sso_settings",
    "staff_session_ended",
    "ticket_audience",
    "ticket_redeem",
    "use_credentials",
]
