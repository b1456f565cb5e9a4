"""auth_service: credentials, registration, tokens and signing keys (the rest: the kit)."""

from datetime import timedelta

from service_kit.conf import data_dir, env, jwt_settings, service_settings

_jwt = {**jwt_settings(), "JWKS_SOURCE": "keys.selectors.jwks"}  # its own keys, from its database

globals().update(
    service_settings(
        service="auth",
        apps=["rest_framework_simplejwt.token_blacklist", "keys", "accounts"],
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
