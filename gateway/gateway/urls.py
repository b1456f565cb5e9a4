from django.contrib import admin
from django.urls import path
from edge import console
from edge import views as edge

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = [
    *service_urlpatterns(
        # In front of the kit's /readyz (the gateway's own: its database and cache), /metrics
        # (their details for the cluster's own network only), /api/schema/ and /api/docs/ (the
        # whole platform's). Beside them the whole platform's state for operators (not a probe).
        path("readyz", edge.readyz, name="readyz"),
        path("status", edge.platform_status, name="platform-status"),
        path("metrics", edge.metrics, name="metrics"),
        path("api/schema/", edge.platform_schema, name="schema"),
        path("api/schema/<slug:service>/", edge.service_schema, name="service-schema"),
        path("api/docs/", edge.docs, name="docs"),
        admin_site=False,
    ),
    # The staff front page, and beside the services' admins at /admin/<service>/ (routed by the
    # edge to each service) the gateway's own.
    path("admin/", console.front_page, name="staff-front-page"),
    path("admin/gateway/", admin.site.urls),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
