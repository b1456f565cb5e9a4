"""The kit's own periodic tasks (beat sends them to ``<service>.tasks``)."""

from celery import shared_task


@shared_task(name="service_kit.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    from .outbox import sweep

    return sweep()


@shared_task(name="service_kit.retention_purge", ignore_result=True)
def retention_purge() -> dict[str, int]:
    from service_kit.retention import purge

    return purge()
