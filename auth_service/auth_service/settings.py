"""auth_service: credentials, registration, tokens and signing keys. Everything else comes from the kit."""

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service="auth",
        port=8001,
        apps=["accounts"],
        AUTH_USER_MODEL="accounts.User",
    )
)
