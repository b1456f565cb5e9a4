"""One error vocabulary: every error any service answers has the body of the API contract.

``{"error": {"code": "...", "message": "...", "details": {...}}}`` with a stable ``code``. Domain
code raises :class:`ApplicationError` subclasses; DRF, Django and the WSGI layer's own errors are
mapped here too, so no client ever sees HTML or a 500 for bad input.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(exceptions.APIException):
    """Base of the errors domain code raises; the handler renders them like DRF's own."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message or self.default_detail, self.default_code)
        self.details = details or {}


class InvalidInput(ApplicationError):
    """Input the domain refuses; ``details`` maps field → messages, like DRF's own 400s."""

    default_code = "validation_error"
    default_detail = "The request is not valid."


class NotFound(ApplicationError):
    """Also for another caller's object: its existence is nobody else's business."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "Not found."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The resource is in a state that does not allow this request."


class PayloadTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class IdempotencyKeyReused(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


class UpstreamUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "upstream_unavailable"
    default_detail = "A service this request depends on is unavailable."


class UpstreamTimeout(ApplicationError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "upstream_timeout"
    default_detail = "A service this request depends on did not answer in time."


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "The service is temporarily unavailable."


logger = logging.getLogger(__name__)

#: The database not answering (server down or restarting, no connection slot, the pool's wait
#: over): the request may succeed later, so it is a 503, never a 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def _database_unavailable(exc: BaseException) -> ServiceUnavailable:
    logger.warning("db.unavailable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
    return ServiceUnavailable("The service's database is unavailable; try again shortly.")


#: DRF's exception classes and the contract's code for each (checked in MRO order).
_CODES: tuple[tuple[type[Exception], str], ...] = (
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "token_not_valid"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    **headers: str,
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain strings, keeping the field → messages shape."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc, ApplicationError):
        return exc.default_code
    codes = exc.get_codes()
    # A specific code set by the raiser (SimpleJWT's "token_not_valid", say) wins over the class's.
    if isinstance(codes, str) and codes not in {exc.default_code, "invalid", "error"}:
        return codes
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return codes if isinstance(codes, str) else "error"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: DRF's own handling, then the contract's body."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        exc = _database_unavailable(exc)
    response = drf_exception_handler(exc, context)
    # DRF answers only its own exceptions (Django's are mapped above). None: a real bug, and
    # Django's handler500 answers (in JSON, see server_error).
    if response is None or not isinstance(exc, exceptions.APIException):
        return None
    code = _code_for(exc)
    message: object
    details: Any
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message, details = "The request is not valid.", _flatten(detail)
    else:
        message = (
            str(exc.detail) if not isinstance(exc.detail, (dict, list)) else exc.default_detail
        )
        details = getattr(exc, "details", None) or (
            _flatten(exc.detail) if isinstance(exc.detail, dict) else {}
        )
    # Throttled's ``wait`` is set by its __init__, which the DRF stubs do not declare.
    wait: float | None = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        details = {**details, "retry_after": int(wait + 0.999)}
    response.data = error_body(code, str(message), details)
    return response


# Django-level handlers (``handler400`` … ``handler500`` in each service's urls.py): errors raised
# outside DRF views (unknown URLs, CSRF, a crash) answer in the same JSON.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(400, "bad_request", "The request is malformed.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(403, "permission_denied", "You do not have permission to do this.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception (outside DRF: a middleware, the admin).
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        unavailable = _database_unavailable(exc)
        return error_response(503, unavailable.default_code, str(unavailable.detail))
    return error_response(500, "server_error", "An unexpected error occurred; it has been logged.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error_response(403, "permission_denied", "CSRF verification failed.", {"reason": reason})
