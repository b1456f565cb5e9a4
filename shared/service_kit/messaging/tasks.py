"""The kit's own periodic tasks (beat sends them to ``<service>.tasks``)."""

from celery import shared_task


@shared_task(name="service_kit.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    from .outbox import sweep

    return sweep()


@shared_task(name="service_kit.idempotency_purge", ignore_result=True)
def idempotency_purge() -> int:
    from service_kit.idempotency import purge_expired

    return purge_expired()
