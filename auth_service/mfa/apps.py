from django.apps import AppConfig


class MfaConfig(AppConfig):
    """The second factor (TOTP, django-otp), and auth_service's own admin sign-in."""

    name = "mfa"
    verbose_name = "Second factor"

    def ready(self) -> None:
        from service_kit.admin_sso import use_credentials

        # Here the users are the real ones: the admin's sign-in checks them in process.
        use_credentials("mfa.credentials.LocalCredentials")
