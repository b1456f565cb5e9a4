from __future__ import annotations

import logging
import time

from django.conf import settings

from service_kit.api.errors import error_response

from .context import REQUEST_ID_HEADER, clean_request_id, request_id_var, user_id_var

access_log = logging.getLogger("service_kit.access")


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (or makes one), keeps it for logs, tasks and
    outgoing calls, echoes it on the answer; refuses a body over ``MAX_REQUEST_BODY_SIZE`` with 413
    before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.max_body = getattr(settings, "MAX_REQUEST_BODY_SIZE", 10 * 1024 * 1024)

    def __call__(self, request):
        request_id = clean_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        rid_token = request_id_var.set(request_id)
        uid_token = user_id_var.set(None)
        try:
            length = request.META.get("CONTENT_LENGTH")
            if length and length.isdigit() and int(length) > self.max_body:
                response = error_response(
                    413, "payload_too_large", "The request body is too large.",
                    {"max_bytes": self.max_body},
                )
            else:
                response = self.get_response(request)
        finally:
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AccessLogMiddleware:
    """One ECS JSON line per request, with its request id and user id (ContextFilter adds them)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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
