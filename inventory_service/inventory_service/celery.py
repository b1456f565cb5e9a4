from datetime import timedelta

from django.conf import settings

from service_kit.messaging import make_celery_app, tasks_queue_name

app = make_celery_app("inventory_service.settings")
app.autodiscover_tasks(["stock"], related_name="tasks")
# The kit's factory sets the whole schedule (its outbox sweep, ...): ours is added to it.
app.conf.beat_schedule["reservations-expire"] = {
    "task": "stock.reservations_expire",
    "schedule": timedelta(seconds=settings.RESERVATION_EXPIRY_INTERVAL),
    "options": {"queue": tasks_queue_name(settings.SERVICE_NAME), "expires": 60},
}
