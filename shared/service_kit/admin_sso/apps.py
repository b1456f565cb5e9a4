from django.apps import AppConfig


class AdminSSOConfig(AppConfig):
    """Staff sign in to this service's admin with their auth_service identity."""

    name = "service_kit.admin_sso"
    label = "admin_sso"
    verbose_name = "Admin sign-in"

    def ready(self) -> None:
        from django.contrib import admin
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from . import checks  # noqa: F401 - registers the system checks
        from .forms import AdminLoginForm
        from .sessions import on_user_logged_in, on_user_logged_out
        from .views import admin_urls_with_sso, sso_login

        # Not an AuthenticationForm: the login view needs only its request argument and get_user()
        admin.site.login_form = AdminLoginForm  # type: ignore[assignment]
        admin.site.login_template = "admin_sso/login.html"
        user_logged_in.connect(on_user_logged_in, dispatch_uid="admin_sso.sign_in_record")
        user_logged_out.connect(on_user_logged_out, dispatch_uid="admin_sso.sign_out_everywhere")
        # Single sign-on: behind the gateway the sign-in is the front page's, and sso/ redeems
        # its tickets (staff_sessions). Instance attributes: the site's URLs are built later.
        admin.site.login = sso_login(admin.site.login)  # type: ignore[method-assign]
        admin.site.get_urls = admin_urls_with_sso(admin.site.get_urls)  # type: ignore[method-assign]
