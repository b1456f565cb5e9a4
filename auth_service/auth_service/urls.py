from django.urls import include, path
from keys.views import jwks_view

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = service_urlpatterns(
    path("api/v1/", include("accounts.urls")),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
