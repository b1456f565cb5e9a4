"""order_service's periodic tasks (beat sends them to ``order.tasks``; see celery.py)."""

from celery import shared_task


@shared_task(name="orders.deadlines_enforce", ignore_result=True)
def deadlines_enforce() -> int:
    """Fail waiting orders past their deadline (idempotent: each is checked under lock)."""
    from .services import orders_fail_overdue

    return orders_fail_overdue()


@shared_task(name="orders.reconcile", ignore_result=True)
def reconcile() -> int:
    """Compare recently finished orders with their payments and reservations; returns how many
    new mismatches were recorded."""
    from .reconciliation import reconcile_orders

    return reconcile_orders().new
