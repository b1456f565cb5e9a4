"""CORS on the lean path, from django-cors-headers' own settings (``CORS_ALLOWED_ORIGINS``, …).

Django's pages get their CORS headers from ``corsheaders.middleware.CorsMiddleware``; the paths
the edge proxies never reach it, so the edge does the same here: a preflight (``OPTIONS`` with
``Access-Control-Request-Method``) is answered by the gateway itself (an empty 200, no token
needed, the upstream not called), and an answer to an allowed ``Origin`` carries
``Access-Control-Allow-Origin`` and the exposed headers. Nothing is configured: nothing is done.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from corsheaders.conf import conf


class Cors:
    def __init__(self) -> None:
        self.allow_all = bool(conf.CORS_ALLOW_ALL_ORIGINS)
        self.origins = {
            (url.scheme, url.netloc) for url in map(urlsplit, conf.CORS_ALLOWED_ORIGINS)
        }
        self.null_allowed = "null" in conf.CORS_ALLOWED_ORIGINS
        self.patterns = [re.compile(pattern) for pattern in conf.CORS_ALLOWED_ORIGIN_REGEXES]
        self.enabled = self.allow_all or bool(self.origins or self.patterns or self.null_allowed)
        self.credentials = bool(conf.CORS_ALLOW_CREDENTIALS)
        self.expose = ", ".join(conf.CORS_EXPOSE_HEADERS)
        self.preflight_headers = [
            ("Access-Control-Allow-Headers", ", ".join(conf.CORS_ALLOW_HEADERS)),
            ("Access-Control-Allow-Methods", ", ".join(conf.CORS_ALLOW_METHODS)),
        ]
        if conf.CORS_PREFLIGHT_MAX_AGE:
            self.preflight_headers.append(
                ("Access-Control-Max-Age", str(conf.CORS_PREFLIGHT_MAX_AGE))
            )

    @staticmethod
    def is_preflight(environ, method: str) -> bool:
        return method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ

    def allowed(self, origin: str) -> bool:
        if self.allow_all:
            return True
        if origin == "null":
            return self.null_allowed
        try:
            url = urlsplit(origin)
        except ValueError:
            return False
        return (url.scheme, url.netloc) in self.origins or any(
            pattern.match(origin) for pattern in self.patterns
        )

    def headers(self, environ, method: str) -> list[tuple[str, str]]:
        """The CORS headers of the answer to this request (none for an origin not allowed)."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin or not self.allowed(origin):
            return []
        headers = [
            (
                "Access-Control-Allow-Origin",
                "*" if self.allow_all and not self.credentials else origin,
            )
        ]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose:
            headers.append(("Access-Control-Expose-Headers", self.expose))
        if method == "OPTIONS":
            headers.extend(self.preflight_headers)
        return headers
