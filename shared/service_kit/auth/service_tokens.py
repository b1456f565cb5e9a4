"""Service identities: a short-lived token from auth_service's client-credentials grant, kept
until shortly before it expires, for the kit's HTTP client (``ServiceClient(token_provider=…)``).

Credentials from ``SERVICE_CLIENT_ID`` and ``SERVICE_CLIENT_SECRET`` (or ``…_FILE``); without
them the provider gives no token (the embedded profile's public reads still work). auth_service
refusing the credentials raises the kit's ``UpstreamUnavailable`` (503), as no answer does."""

from __future__ import annotations

import logging
import threading
import time

from service_kit.conf import env_value

logger = logging.getLogger(__name__)


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
            from service_kit.api.errors import UpstreamUnavailable
            from service_kit.http import ServiceClient

            answer = ServiceClient("auth").post(
                "/api/v1/auth/service-token/",
                json={"client_id": client_id, "client_secret": secret},
            )
            try:
                if answer.status != 200:
                    raise ValueError(f"status {answer.status}")
                body = answer.json()
                token, lifetime = str(body["access"]), float(body["expires_in"])
            except (ValueError, KeyError, TypeError) as exc:
                # The caller's request cannot go on without its identity: a 503, never a 500.
                logger.warning("auth.service_token_refused", extra={"error": str(exc)[:200]})
                raise UpstreamUnavailable(
                    details={"upstream": "auth", "reason": "service_token_refused"}
                ) from exc
            self._token = token
            self._expires = time.monotonic() + lifetime - self.MARGIN
            return self._token

    def forget(self, refused: str) -> bool:
        """A callee refused ``refused`` (401: auth_service revoked it when the client's secret
        was reset or its scopes changed): drop it, so the next call fetches a new one. True when
        a call sent with it should be tried again (the token it would now get is another)."""
        with self._lock:
            if self._token == refused:
                self._token, self._expires = None, 0.0
            return self._token != refused


service_token = ServiceTokenProvider()
