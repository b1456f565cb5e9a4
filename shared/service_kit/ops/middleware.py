from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from service_kit.api.errors import error_response
from service_kit.context import REQUEST_ID_HEADER, clean_request_id, request_id_var, user_id_var

from .bodies import is_length

access_log = logging.getLogger("service_kit.access")


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (or makes one), keeps it for logs, tasks and
    outgoing calls, and echoes it on the answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = clean_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]  # the kit's own attribute
        rid_token = request_id_var.set(request_id)
        uid_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AccessLogMiddleware:
    """One ECS JSON line per request, with its request id and user id (ContextFilter adds them)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        user_id = getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
        if user_id is not None:
            user_id_var.set(str(user_id))
        access_log.info(
            "http.request",
            extra={
                "http.request.method": request.method,
                "url.path": request.path,
                "http.response.status_code": response.status_code,
                "event.duration": int((time.perf_counter() - started) * 1e9),
                "request_id": request.request_id if hasattr(request, "request_id") else None,
                "user_id": str(user_id) if user_id is not None else None,
            },
        )
        return response


class ApiBodyMiddleware:
    """The API is JSON only: a body sent to ``/api/`` is checked once, before authentication.

    Too large → 413 ``payload_too_large`` (before anything reads it); a media type other than JSON
    or multipart (uploads) → 415 ``unsupported_media_type``; JSON that does not parse → 400
    ``parse_error``. The parsed document is kept for the kit's JSON parser, so DRF does not parse
    it again.
    """

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.max_body = getattr(settings, "MAX_REQUEST_BODY_SIZE", 10 * 1024 * 1024)
        self.prefix = getattr(settings, "API_PATH_PREFIX", "/api/")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method in self.BODY_METHODS and request.path.startswith(self.prefix):
            problem = self.check(request)
            if problem is not None:
                return problem
        return self.get_response(request)

    def check(self, request: HttpRequest) -> JsonResponse | None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        size = int(length) if is_length(length) else 0
        if size > self.max_body:
            return self.too_large(self.max_body)
        if size == 0:
            return None
        media_type = request.content_type or ""
        if media_type == "multipart/form-data":
            return None
        if not (media_type == "application/json" or media_type.endswith("+json")):
            self.drain(request)
            return error_response(
                415,
                "unsupported_media_type",
                f'Unsupported media type "{media_type}" in request.',
                {"supported": ["application/json"]},
            )
        # A JSON body is read whole into memory, where Django's own (smaller) limit applies;
        # over it, reading would raise, and the answer would be a bare 400.
        in_memory = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if in_memory is not None and size > in_memory:
            self.drain(request)
            return self.too_large(in_memory)
        try:
            request.kit_json = json.loads(request.body)  # type: ignore[attr-defined]  # the kit's own
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            return error_response(400, "parse_error", f"JSON parse error - {exc}")
        return None

    @staticmethod
    def drain(request: HttpRequest) -> None:
        """Read (and drop) a body refused unread, at most ``max_body`` bytes: a server that
        answers and closes while the client is still sending resets the connection, and the
        client (or the gateway in front) sees the reset, never the answer."""
        while request.read(64 * 1024):
            pass

    @staticmethod
    def too_large(max_bytes: int) -> JsonResponse:
        return error_response(
            413, "payload_too_large", "The request body is too large.", {"max_bytes": max_bytes}
        )
