from django.contrib import admin
from django.urls import path
from edge import views as edge

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = [
    *service_urlpatterns(
        # In front of the kit's own /readyz, /metrics and /api/docs/: the whole platform's, and
        # the first two for the cluster's own network only.
        path("readyz", edge.readyz, name="readyz"),
        path("metrics", edge.metrics, name="metrics"),
        path("api/schema/<slug:service>/", edge.service_schema, name="service-schema"),
        path("api/docs/", edge.docs, name="docs"),
        admin_site=False,
    ),
    # Beside the services' admins at /admin/<service>/ (routed by the edge to each service).
    path("admin/gateway/", admin.site.urls),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
