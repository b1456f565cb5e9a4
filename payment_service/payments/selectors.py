"""Reads: who sees which payments. Customers see their own (``customer_id`` is the token's user
id); ``support``, ``payment_manager`` and ``admin`` see all, and so does a service identity whose
token carries ``payments:read`` (order_service's reconciliation). Another customer's payment is
"not found", never "forbidden"."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from django.db.models import QuerySet

from .errors import PaymentNotFound
from .models import Payment

STAFF_READ_ROLES = ("support", "payment_manager", "admin")
#: The scope of a service identity that reads every payment.
READ_SCOPE = "payments:read"


def _visible(user) -> QuerySet[Payment]:
    payments = Payment.objects.all()
    if user.is_service:
        return payments if READ_SCOPE in user.scopes else payments.none()
    if user.has_role(*STAFF_READ_ROLES):
        return payments
    return payments.filter(customer_id=user.id)


def payment_list(
    *,
    user,
    status: str | None = None,
    order_id: UUID | None = None,
    order_ids: Collection[UUID] | None = None,
):
    payments = _visible(user)
    if status:
        payments = payments.filter(status=status)
    if order_id:
        payments = payments.filter(order_id=order_id)
    if order_ids is not None:
        payments = payments.filter(order_id__in=list(order_ids))
    return payments.order_by("-created_at", "id")


def payment_get(*, user, payment_id: UUID) -> Payment:
    payment = _visible(user).filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound()
    return payment
