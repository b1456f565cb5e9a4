"""``Idempotency-Key`` for write endpoints (IETF httpapi draft, Stripe's semantics).

Decorate a view method with :func:`idempotent`: the same key and body replay the first answer
(with ``Idempotent-Replayed: true``); the same key with another body is ``422
idempotency_key_reused``; a second request while the first still runs is ``409 conflict``. Keys
belong to their caller and live ``IDEMPOTENCY_KEY_TTL`` seconds (24 h). A request that raised or
answered 5xx releases its key, so the client may retry it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from .api.errors import Conflict, IdempotencyKeyReused
from .models import IdempotencyKey
from .ops.forwarded import client_address

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "Content-Type")

_ViewMethod = TypeVar("_ViewMethod", bound=Callable[..., Response])


def caller_of(request: Request) -> str:
    """Whose keys these are: a person by user id, a service by its ``client_id`` (a service
    token has no user id; without this every service client would share one namespace and
    replay each other's answers), anyone else by address."""
    user: Any = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return f"anonymous:{client_address(request.META)}"
    client_id = getattr(user, "client_id", None)
    if client_id:
        return f"service:{client_id}"
    return f"user:{user.pk}"


def request_fingerprint(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    except TypeError:
        body = repr(request.data)
    raw = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def _claim(request: Request, key: str) -> IdempotencyKey | Response:
    caller, fingerprint, now = caller_of(request), request_fingerprint(request), timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    caller=caller,
                    key=key,
                    method=request.method or "",
                    path=request.path[:500],
                    request_hash=fingerprint,
                    expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL),
                )
        except IntegrityError:
            record = IdempotencyKey.objects.filter(caller=caller, key=key).first()
            if record is None:
                continue  # released between our insert and our read: try again
            if record.expires_at <= now:
                record.delete()
                continue
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused() from None
            if record.completed_at is None:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress."
                ) from None
            return _replay(record)
    raise Conflict("A request with this Idempotency-Key is still in progress.")


def _replay(record: IdempotencyKey) -> Response:
    data = json.loads(bytes(record.response_body)) if record.response_body else None
    response = Response(data, status=record.status_code)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view_method: _ViewMethod) -> _ViewMethod:
    """Make a DRF view method (``create``, ``post``…) honour ``Idempotency-Key``."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not (1 <= len(key) <= 255) or not key.isprintable():
            raise ValidationError({HEADER: ["Must be 1 to 255 printable characters."]})
        claimed = _claim(request, key)
        if isinstance(claimed, Response):
            return claimed
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500:
            claimed.delete()
            return response
        body = json.dumps(getattr(response, "data", None), default=str).encode()
        claimed.status_code = response.status_code
        claimed.response_body = body
        claimed.response_headers = {h: response[h] for h in KEPT_HEADERS if h in response}
        claimed.completed_at = timezone.now()
        claimed.save(
            update_fields=["status_code", "response_body", "response_headers", "completed_at"]
        )
        return response

    return cast(_ViewMethod, wrapper)  # functools.wraps: the view method's own signature
