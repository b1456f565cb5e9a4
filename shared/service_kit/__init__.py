"""The platform's service kit: what every service would otherwise write again.

Its public modules and packages are ``__all__``. A service imports names from these (``from
service_kit.messaging import publish_event``), never from a module inside a package
(``service_kit.messaging.outbox``): each package's ``__init__`` names what it offers. The rest
(``apps``, ``admin``, ``checks``, ``management``, ``migrations``) is Django's to load, and the
dotted paths Django itself needs (middleware, authentication and permission classes, the
exception handler, logging filters) stay as strings in the settings ``conf`` writes.
``make lint`` holds services to this (import-linter, the contracts in
platform_tools.testing.architecture).
"""

__all__ = [
    "admin_sso",
    "api",
    "auth",
    "conf",
    "console",
    "context",
    "entrypoints",
    "http",
    "idempotency",
    "messaging",
    "models",
    "ops",
    "platform",
    "redaction",
    "retention",
    "running",
    "urls",
]
