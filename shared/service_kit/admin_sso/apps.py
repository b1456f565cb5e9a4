from django.apps import AppConfig


class AdminSSOConfig(AppConfig):
    """Staff sign in to this service's admin with their auth_service identity."""

    name = "service_kit.admin_sso"
    label = "admin_sso"
    verbose_name = "Admin sign-in"

    def ready(self) -> None:
        from django.contrib import admin
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401 - registers the system checks
        from .forms import AdminLoginForm
        from .sessions import on_user_logged_in

        admin.site.login_form = AdminLoginForm
        admin.site.login_template = "admin_sso/login.html"
        user_logged_in.connect(on_user_logged_in, dispatch_uid="admin_sso.sign_in_record")
