"""auth_service: credentials, registration, tokens and signing keys (the rest: the kit)."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="auth",
        apps=["accounts"],
        AUTH_USER_MODEL="accounts.User",
    )
)
