"""The routes every service has; a service's urls.py adds its own API in front of them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .ops.health import healthz, readyz
from .ops.metrics import metrics_view

handler400 = "service_kit.api.errors.bad_request"
handler403 = "service_kit.api.errors.permission_denied"
handler404 = "service_kit.api.errors.not_found"
handler500 = "service_kit.api.errors.server_error"


def service_urlpatterns(
    *api: URLPattern | URLResolver, admin_site: bool = True
) -> list[URLPattern | URLResolver]:
    """``api`` routes plus health, metrics, the OpenAPI schema, its docs and the admin (with the
    staff front page's figures and activity)."""
    patterns: list[URLPattern | URLResolver] = [
        *api,
        path("healthz", healthz, name="healthz"),
        path("readyz", readyz, name="readyz"),
        path("metrics", metrics_view, name="metrics"),
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    ]
    if admin_site:
        from .console.api import ConsoleActivityApi, ConsoleFiguresApi

        patterns += [
            path("admin/", admin.site.urls),
            # The staff front page's figures and activity (service_kit.console.api).
            path("api/v1/console/figures/", ConsoleFiguresApi.as_view(), name="console-figures"),
            path("api/v1/console/activity/", ConsoleActivityApi.as_view(), name="console-activity"),
        ]
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        # Media on the local disk (embedded profile): served here, as S3 would serve it.
        prefix = settings.MEDIA_URL.strip("/")
        patterns.append(
            re_path(rf"^{prefix}/(?P<path>.+)$", serve, {"document_root": settings.MEDIA_ROOT})
        )
    return patterns
