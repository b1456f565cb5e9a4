from accounts import views as accounts
from django.urls import include, path
from keys.views import jwks_view

from service_kit.urls import handler400, handler403, handler404, handler500, service_urlpatterns

urlpatterns = service_urlpatterns(
    path("api/v1/", include("accounts.urls")),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    # Single sign-on across the admins: the services' own network only (the gateway routes
    # nothing outside /api/ and /admin/ here).
    path("internal/staff-sessions/", accounts.StaffSessionOpenApi.as_view()),
    path("internal/staff-sessions/ticket/", accounts.StaffTicketApi.as_view()),
    path("internal/staff-sessions/end/", accounts.StaffSessionEndApi.as_view()),
)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
