from datetime import timedelta

from django.conf import settings

from service_kit.messaging import make_celery_app, tasks_queue_name

app = make_celery_app("order_service.settings")
app.autodiscover_tasks(["orders"], related_name="tasks")
# The kit's factory sets the whole schedule (its outbox sweep, ...): ours is added to it.
app.conf.beat_schedule["order-deadlines"] = {
    "task": "orders.deadlines_enforce",
    "schedule": timedelta(seconds=settings.DEADLINE_CHECK_INTERVAL),
    "options": {"queue": tasks_queue_name(settings.SERVICE_NAME), "expires": 60},
}
if settings.RECONCILIATION_INTERVAL > 0:
    app.conf.beat_schedule["order-reconciliation"] = {
        "task": "orders.reconcile",
        "schedule": timedelta(seconds=settings.RECONCILIATION_INTERVAL),
        "options": {"queue": tasks_queue_name(settings.SERVICE_NAME), "expires": 600},
    }
