from django.urls import include, path

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = service_urlpatterns(path("api/v1/", include("orders.urls")))

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
