"""The audit trail: every staff action that changes money, stock, prices or roles is recorded by
the service that did it, with who, when, what and why (:class:`~service_kit.models.AuditEntry`,
read-only in every admin; the staff front page lists them across services through
``GET /api/v1/console/activity/``).

    audit_record(actor=request.user.email, action="refund", target=f"payment {payment.pk}",
                 reason=reason, target_url=admin_href("payment", "payments", "payment", pk),
                 details={"amount": "5.00", "currency": "EUR"})

A staff member must say why: :func:`reason_required` refuses a blank reason with the platform's
400 (``validation_error``, the field ``reason``) before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .api.errors import InvalidInput
from .models import AuditEntry

#: What a blank reason is told.
REASON_MISSING = "Say why (it is kept in the audit trail)."


def reason_required(reason: Any, field: str = "reason") -> str:
    """The reason given, stripped; a blank or missing one is refused (400)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput(details={field: [REASON_MISSING]})
    return text[:500]


def _plain(value: Any) -> Any:
    """JSON-safe details (decimals, ids and dates as their strings)."""
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: str,
    action: str,
    target: str,
    reason: str,
    target_url: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Record one staff action (call it inside the change's transaction: both or neither)."""
    return AuditEntry.objects.create(
        at=timezone.now(),
        actor=(actor or "unknown")[:254],
        action=action[:64],
        target=target[:200],
        target_url=target_url[:500],
        reason=reason_required(reason),
        details=_plain(dict(details or {})),
    )
