"""inventory_service's periodic tasks (beat sends them to ``inventory.tasks``; see celery.py)."""

from celery import shared_task


@shared_task(name="stock.reservations_expire", ignore_result=True)
def reservations_expire() -> int:
    """Release held reservations past their expiry (idempotent: each is checked under lock)."""
    from .services import reservations_expire_due

    return reservations_expire_due()
