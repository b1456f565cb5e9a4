"""auth_service: credentials, registration, tokens and signing keys (the rest: the kit)."""

from datetime import timedelta

from service_kit.conf import data_dir, env, env_value, jwt_settings, service_settings

_jwt = {**jwt_settings(), "JWKS_SOURCE": "keys.selectors.jwks"}  # its own keys, from its database


def _email() -> dict:
    """Mail (password resets): SMTP when ``EMAIL_URL`` (or ``EMAIL_URL_FILE``) is set, e.g.
    ``smtp+tls://user:password@smtp.example.com:587``; else the console, which the real profile
    refuses (service_kit.E005: it would print reset tokens into the shipped logs)."""
    url = env_value("EMAIL_URL")
    config = env.email_url_config(url) if url else {}
    config["EMAIL_BACKEND"] = env(
        "EMAIL_BACKEND",
        default=config.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
    )
    return {
        **config,
        "EMAIL_TIMEOUT": env.int("EMAIL_TIMEOUT", 10),
        "DEFAULT_FROM_EMAIL": env("DEFAULT_FROM_EMAIL", default="no-reply@localhost"),
        # A reset token is good for this long, and only once.
        "PASSWORD_RESET_TIMEOUT": env.int("PASSWORD_RESET_TIMEOUT", 3600),
        # The front end's page that takes ``?token=``; without it the email carries the token.
        "PASSWORD_RESET_URL": env("PASSWORD_RESET_URL", default=""),
    }


globals().update(
    service_settings(
        service="auth",
        apps=[
            "django_otp",
            "django_otp.plugins.otp_totp",
            "keys",
            "accounts",
            "mfa",
        ],
        AUTH_USER_MODEL="accounts.User",
        JWT=_jwt,
        JWT_SIGNING_KEYS_DIR=env("JWT_SIGNING_KEYS_DIR", default=str(data_dir() / "keys" / "auth")),
        # A development key is made on first use in the embedded profile only.
        JWT_AUTO_KEY=env.bool(
            "JWT_AUTO_KEY", default=env("PLATFORM_PROFILE", default="embedded") == "embedded"
        ),
        LOGIN_GUARD={
            "ACCOUNT_FAILURES": env.int("LOGIN_GUARD_ACCOUNT_FAILURES", 5),
            "ADDRESS_FAILURES": env.int("LOGIN_GUARD_ADDRESS_FAILURES", 20),
            "WINDOW_SECONDS": env.int("LOGIN_GUARD_WINDOW_SECONDS", 900),
        },
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.ScryptPasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ],
        AUTH_PASSWORD_VALIDATORS=[
            {"NAME": f"django.contrib.auth.password_validation.{name}"}
            for name in (
                "UserAttributeSimilarityValidator",
                "MinimumLengthValidator",
                "CommonPasswordValidator",
                "NumericPasswordValidator",
            )
        ],
        **_email(),
        # A third-party app's old migrations (django-otp's TOTP) trip the linter; they are not
        # ours. (django-migration-linter reads MIGRATION_LINTER_OPTIONS.)
        MIGRATION_LINTER_OPTIONS={"exclude_apps": ["otp_totp"]},
        # The retention purge also drops expired refresh-token records (service_kit.retention).
        RETENTION={"TABLES": {"refresh_tokens": "accounts.selectors.refresh_tokens_expired"}},
        OTP_TOTP_ISSUER=env("OTP_TOTP_ISSUER", default="Commerce platform"),
        OTP_ADMIN_HIDE_SENSITIVE_DATA=True,
        SIMPLE_JWT={
            "ALGORITHM": "RS256",
            "ACCESS_TOKEN_LIFETIME": timedelta(seconds=_jwt["ACCESS_TOKEN_LIFETIME"]),
            "REFRESH_TOKEN_LIFETIME": timedelta(seconds=_jwt["REFRESH_TOKEN_LIFETIME"]),
            "ROTATE_REFRESH_TOKENS": True,
            "BLACKLIST_AFTER_ROTATION": True,
            "UPDATE_LAST_LOGIN": True,
            "USER_ID_FIELD": "id",
            "USER_ID_CLAIM": "user_id",
            "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),
            "TOKEN_TYPE_CLAIM": "token_type",
            "JTI_CLAIM": "jti",
        },
    )
)
