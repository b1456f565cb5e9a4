"""Service identities: a short-lived token from auth_service's client-credentials grant, kept
until shortly before it expires, for the kit's HTTP client (``ServiceClient(token_provider=…)``).

Credentials from ``SERVICE_CLIENT_ID`` and ``SERVICE_CLIENT_SECRET`` (or ``…_FILE``); without
them the provider gives no token (the embedded profile's public reads still work)."""

from __future__ import annotations

import threading
import time

from service_kit.conf import env_value


class ServiceTokenProvider:
    #: Fetch a new token this many seconds before the old one expires.
    MARGIN = 30.0

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        if self._token and time.monotonic() < self._expires:
            return self._token
        client_id, secret = env_value("SERVICE_CLIENT_ID"), env_value("SERVICE_CLIENT_SECRET")
        if not (client_id and secret):
            return None
        with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            from service_kit.http import ServiceClient

            answer = ServiceClient("auth").post(
                "/api/v1/auth/service-token/",
                json={"client_id": client_id, "client_secret": secret},
            )
            if answer.status != 200:
                raise PermissionError(f"auth_service refused the service token ({answer.status})")
            body = answer.json()
            self._token = body["access"]
            self._expires = time.monotonic() + float(body["expires_in"]) - self.MARGIN
            return self._token


service_token = ServiceTokenProvider()
