from service_kit.messaging import make_celery_app

app = make_celery_app("kitproject.settings")
