"""Reads: orders as their caller may see them."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from .errors import OrderNotFound
from .models import Order, OrderTransition

#: Staff roles that see every order (``admin`` has every role).
STAFF_READ_ROLES = ("support", "order_manager", "admin")


def sees_all(user) -> bool:
    return bool(user.has_role(*STAFF_READ_ROLES))


def order_list(*, user, status: str | None = None) -> QuerySet[Order]:
    """The caller's own orders; staff's: everyone's. Newest first, lines and history loaded."""
    orders = Order.objects.prefetch_related(
        "lines", Prefetch("transitions", queryset=OrderTransition.objects.order_by("at", "id"))
    )
    if not sees_all(user):
        orders = orders.filter(customer_id=user.id)
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "-id")


def order_get(*, user, order_id: UUID | str) -> Order:
    """One order the caller may see; another customer's is not found (404), like a missing one."""
    try:
        order_id = UUID(str(order_id))
    except ValueError:
        raise OrderNotFound() from None
    order = order_list(user=user).filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound()
    return order
