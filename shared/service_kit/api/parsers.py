from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reusing the document ApiBodyMiddleware already parsed."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        django_request = getattr(request, "_request", None)
        if django_request is not None and hasattr(django_request, "kit_json"):
            return django_request.kit_json
        return super().parse(stream, media_type, parser_context)
