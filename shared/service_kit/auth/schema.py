"""OpenAPI: the bearer scheme for JWTAuthentication (drf-spectacular finds it on import)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "service_kit.auth.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
