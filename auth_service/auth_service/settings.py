"""auth_service: credentials, registration, tokens and signing keys (the rest: the kit)."""

from service_kit.conf import data_dir, env, jwt_settings, mail_settings, service_settings

globals().update(
    service_settings(
        service="auth",
        apps=["django_otp", "django_otp.plugins.otp_totp", "keys", "accounts", "mfa"],
        AUTH_USER_MODEL="accounts.User",
        # The issuer: its JWKS from its own database, its private keys from a mounted secret (the
        # embedded profile makes a development key on first use).
        JWT={**jwt_settings(), "JWKS_SOURCE": "keys.selectors.jwks"},
        JWT_SIGNING_KEYS_DIR=env("JWT_SIGNING_KEYS_DIR", default=str(data_dir() / "keys" / "auth")),
        JWT_AUTO_KEY=env.bool(
            "JWT_AUTO_KEY", default=env("PLATFORM_PROFILE", default="embedded") == "embedded"
        ),
        PASSWORD_HASHERS=[
            f"django.contrib.auth.hashers.{name}PasswordHasher"
            for name in ("Argon2", "Scrypt", "PBKDF2")
        ],
        AUTH_PASSWORD_VALIDATORS=[
            {"NAME": f"django.contrib.auth.password_validation.{name}Validator"}
            for name in (
                "UserAttributeSimilarity",
                "MinimumLength",
                "CommonPassword",
                "NumericPassword",
            )
        ],
        # Password resets: sent by mail, a token good for this long and only once, and the front
        # end's page that takes ``?token=`` (without it the mail carries the token).
        **mail_settings(),
        PASSWORD_RESET_TIMEOUT=env.int("PASSWORD_RESET_TIMEOUT", 3600),
        PASSWORD_RESET_URL=env("PASSWORD_RESET_URL", default=""),
        OTP_TOTP_ISSUER=env("OTP_TOTP_ISSUER", default="Commerce platform"),
        OTP_ADMIN_HIDE_SENSITIVE_DATA=True,
        # The retention purge also drops expired refresh-token records (service_kit.retention).
        RETENTION={"TABLES": {"refresh_tokens": "accounts.selectors.refresh_tokens_expired"}},
        # django-otp's old TOTP migrations trip the migration linter; they are not ours.
        MIGRATION_LINTER_OPTIONS={"exclude_apps": ["otp_totp"]},
    )
)
