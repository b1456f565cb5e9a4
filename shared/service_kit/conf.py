"""Settings every service shares, read from the environment with embedded defaults.

A service's ``settings.py`` is a screenful::

    from service_kit.conf import service_settings

    globals().update(service_settings(
        service="product", apps=["catalogue"],
        consumes=["inventory.low_stock"],
    ))

Two profiles: *embedded* (the default: SQLite per service, a file cache and a filesystem broker
shared by every process under ``PLATFORM_DATA_DIR``) and *real* (PostgreSQL, Redis, RabbitMQ and S3
or GCS, chosen by ``DATABASE_URL``, ``CACHE_URL``, ``CELERY_BROKER_URL`` and ``S3_BUCKET`` or
``GCS_BUCKET``: service_kit.media). Every secret may come from a file named by ``<NAME>_FILE``
instead (Kubernetes and compose secrets).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import secrets
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import environ
from django.core.exceptions import ImproperlyConfigured

from service_kit import roles, tracing
from service_kit.media import media_storage

REPO_ROOT = Path(__file__).resolve().parents[2]


def platform_version() -> str:
    """The release's version: ``PLATFORM_VERSION``, else the kit's package version (one version
    for the whole platform; a release tags it ``vX.Y.Z``)."""
    if os.environ.get("PLATFORM_VERSION"):
        return os.environ["PLATFORM_VERSION"].removeprefix("v")
    with contextlib.suppress(OSError, KeyError, ValueError):
        project = tomllib.loads((REPO_ROOT / "shared" / "pyproject.toml").read_text())
        return str(project["project"]["version"])
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        return importlib.metadata.version("service-kit")  # installed from a wheel
    return "0+unknown"  # neither said nor installed: a version is a label, never a reason to stop


env = environ.Env()

#: Settings that may be given as ``NAME_FILE`` (a path whose content is the value).
SECRET_NAMES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "SENTRY_DSN",
)


@overload
def env_value(name: str) -> str | None: ...
@overload
def env_value(name: str, default: str) -> str: ...
def env_value(name: str, default: str | None = None) -> str | None:
    """The value of ``name`` from the environment, or from the file named by ``name_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def data_dir() -> Path:
    """Where the embedded profile keeps its databases, cache, broker folders and media."""
    path = Path(os.environ.get("PLATFORM_DATA_DIR", REPO_ROOT / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(var: Path) -> str:
    key = env_value("SECRET_KEY")
    if key:
        return key
    if os.environ.get("PLATFORM_PROFILE", "embedded") != "embedded":
        # Every replica must sign with the same key: a key made here would differ per process.
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set in this profile.")
    # Embedded profile: a development key made on first start, kept outside the source tree.
    path = var / "secret_key"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(50))
    return path.read_text().strip()


def write_private(path: Path, text: str) -> None:
    """A new file only its owner can read, from its first byte (written first and restricted
    after, it was readable by anyone for a moment), and whole or not at all: written under a
    temporary name, then linked into place, so processes starting together all read the one
    that won instead of each keeping its own."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        with contextlib.suppress(FileExistsError):  # another process won: theirs is the key
            os.link(temporary, path)
    finally:
        temporary.unlink()


_PROMETHEUS_DB_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}


def database_settings(service: str, var: Path) -> dict[str, Any]:
    url = env_value("DATABASE_URL") or f"sqlite:///{var / f'{service}.sqlite3'}"
    db: dict[str, Any] = env.db_url_config(url)
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # Web process and worker share the file: WAL lets them read while one writes, IMMEDIATE
        # transactions take the write lock up front instead of failing on upgrade.
        db["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine == "django.db.backends.postgresql":
        db["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
        db["CONN_HEALTH_CHECKS"] = True  # with a pool: each connection checked when taken
        db["OPTIONS"] = {
            "pool": {
                "min_size": env.int("DB_POOL_MIN_SIZE", 1),
                "max_size": env.int("DB_POOL_MAX_SIZE", 10),
                "timeout": env.float("DB_POOL_TIMEOUT", 10.0),
            },
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", 5),
        }
    db["ENGINE"] = _PROMETHEUS_DB_ENGINES.get(engine, engine)
    db.setdefault("TEST", {})
    return db


def cache_settings(var: Path) -> dict[str, Any]:
    url = env_value("CACHE_URL") or f"filecache://{var / 'cache'}"
    cache: dict[str, Any] = env.cache_url_config(url)
    # One cache for the whole platform (revocations, throttles, breaker state): the prefix is
    # the platform's, not the service's. Tests give each run its own.
    cache["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX", "platform")
    if cache["BACKEND"].startswith("django_redis"):
        cache.setdefault("OPTIONS", {}).update(
            {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "CONNECTION_POOL_KWARGS": {"max_connections": 50, "health_check_interval": 30},
            }
        )
    elif cache["BACKEND"].endswith("FileBasedCache"):
        cache["OPTIONS"] = {"MAX_ENTRIES": 100_000}
    return cache


def broker_settings(var: Path) -> dict[str, Any]:
    url = env_value("CELERY_BROKER_URL") or "filesystem://"
    options: dict[str, Any] = {}
    if url.startswith("filesystem"):
        folder = var / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    else:
        options = {"confirm_publish": True, "max_retries": 2}
    return {"CELERY_BROKER_URL": url, "CELERY_BROKER_TRANSPORT_OPTIONS": options}


def storage_settings(var: Path) -> dict[str, Any]:
    return {
        "STORAGES": {
            "default": media_storage(env_value),
            # whitenoise's, with URLs under a forwarded prefix (service_kit.ops.forwarded)
            "staticfiles": {"BACKEND": "service_kit.ops.forwarded.ForwardedStaticFilesStorage"},
        },
    }


def service_settings(
    *,
    service: str,
    apps: list[str],
    consumes: Sequence[str] = (),
    commands: Sequence[str] = (),
    worker: bool = True,
    api_version: str = "1.0.0",
    **extra: Any,
) -> dict[str, Any]:
    """Every Django setting of one service.

    ``service`` names the service in logs, metrics, queues and database names; ``apps`` are its
    own Django apps; ``consumes`` are the event types (``order.confirmed``) its ``<service>.events``
    queue is bound to; ``commands`` the verbs of its command queues (``reserve`` makes the queue
    ``<service>.reserve``). ``api_version`` is its OpenAPI document's: a breaking API change
    raises its major (``make lint`` compares the document with the last release's).
    ``extra`` settings are added last and win.
    """
    var = data_dir()
    # The project package is the one holding the settings module; it names the service folder.
    project = os.environ.get("DJANGO_SETTINGS_MODULE", f"{service}.settings").rsplit(".", 1)[0]
    base = REPO_ROOT / project
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(var / "metrics" / service))
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    static_root = Path(os.environ.get("STATIC_ROOT", var / "static" / service))
    static_root.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
    debug = env.bool("DEBUG", False)
    hosts = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
    # Reached only through the gateway and the mesh (or on loopback): the gateway's X-Forwarded-
    # Prefix and -Host are believed. See service_kit.ops.forwarded; the gateway itself says no.
    trust_forwarded = env.bool("TRUST_FORWARDED_PREFIX", True)

    settings: dict[str, Any] = {
        "SERVICE_NAME": service,
        "SERVICE_PORT": SERVICE_PORTS.get(service),
        "PLATFORM_PROFILE": os.environ.get("PLATFORM_PROFILE", "embedded"),
        "BASE_DIR": base,
        "SECRET_KEY": _secret_key(var),
        "DEBUG": debug,
        "ALLOWED_HOSTS": hosts,
        "CSRF_TRUSTED_ORIGINS": env.list("CSRF_TRUSTED_ORIGINS", default=[]),
        "INSTALLED_APPS": [
            # Before the admin: every admin's header and bar are the staff console's.
            "service_kit.console",
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "whitenoise.runserver_nostatic",
            "django.contrib.staticfiles",
            "django_prometheus",
            "rest_framework",
            "drf_spectacular",
            "drf_spectacular_sidecar",
            "service_kit",
            "service_kit.admin_sso",
            *apps,
            # make lint: backward-incompatible migrations fail (a test requirement only)
            *(["django_migration_linter"] if env.bool("MIGRATION_LINTER", False) else []),
        ],
        "MIDDLEWARE": [
            # Right after OpenTelemetry's own (its instrumentor puts it first): a request that is
            # not sampled makes no spans below.
            *(["service_kit.tracing.UnsampledRequestMiddleware"] if tracing.ON else []),
            "service_kit.ops.metrics.PrometheusBeforeMiddleware",  # latency with exemplars
            "service_kit.ops.middleware.RequestIdMiddleware",
            "service_kit.ops.middleware.ApiBodyMiddleware",
            "service_kit.ops.forwarded.ForwardedPrefixMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "service_kit.admin_sso.middleware.AdminSessionMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "service_kit.ops.middleware.AccessLogMiddleware",
            "service_kit.ops.metrics.PrometheusAfterMiddleware",
        ],
        "ROOT_URLCONF": f"{project}.urls",
        "WSGI_APPLICATION": f"{project}.wsgi.application",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "DATABASES": {"default": database_settings(service, var)},
        "CACHES": {"default": cache_settings(var)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "LANGUAGE_CODE": "en-us",
        "TIME_ZONE": "UTC",
        "USE_I18N": True,
        "USE_TZ": True,
        "STATIC_URL": os.environ.get("STATIC_URL", "static/"),
        "STATIC_ROOT": static_root,
        # Embedded: static files straight from the apps (no collectstatic needed to develop).
        "WHITENOISE_USE_FINDERS": os.environ.get("PLATFORM_PROFILE", "embedded") == "embedded",
        "MEDIA_URL": os.environ.get("MEDIA_URL", "media/"),
        "MEDIA_ROOT": Path(os.environ.get("MEDIA_ROOT", var / "media" / service)),
        # Admins behind the gateway live side by side under one host: their cookies must not meet.
        "SESSION_COOKIE_NAME": f"{service}_sessionid",
        "CSRF_COOKIE_NAME": f"{service}_csrftoken",
        "SESSION_COOKIE_HTTPONLY": True,
        **https_settings(),
        # The admin behind the gateway: /admin/<service>/ (service_kit.ops.forwarded). With the
        # forwarded host, the browser's Origin (the gateway's) passes the CSRF check; the public
        # host must be in ALLOWED_HOSTS.
        "TRUST_FORWARDED_PREFIX": trust_forwarded,
        "FORWARDED_PREFIX_MOUNT": "admin/",
        "USE_X_FORWARDED_HOST": env.bool("USE_X_FORWARDED_HOST", trust_forwarded),
        # Proxies in front that append to X-Forwarded-For (the gateway: 1; an ingress before it:
        # 2): the client's address is the entry the outermost wrote (ops.forwarded).
        "TRUSTED_PROXIES": env.int("TRUSTED_PROXIES", 1 if trust_forwarded else 0),
        "DATA_UPLOAD_MAX_MEMORY_SIZE": env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440),
        "MAX_REQUEST_BODY_SIZE": env.int("MAX_REQUEST_BODY_SIZE", 10 * 1024 * 1024),
        "REST_FRAMEWORK": {
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "DEFAULT_PARSER_CLASSES": ["service_kit.api.parsers.JSONParser"],
            "DEFAULT_AUTHENTICATION_CLASSES": ["service_kit.auth.authentication.JWTAuthentication"],
            # Secure by default: a public endpoint says so (permission_classes = [AllowAny]).
            "DEFAULT_PERMISSION_CLASSES": ["service_kit.auth.permissions.IsAuthenticated"],
            "DEFAULT_PAGINATION_CLASS": "service_kit.api.pagination.PageNumberPagination",
            "PAGE_SIZE": 20,
            "DEFAULT_SCHEMA_CLASS": "service_kit.api.openapi.AutoSchema",
            "EXCEPTION_HANDLER": "service_kit.api.errors.exception_handler",
            "UNAUTHENTICATED_USER": None,
            "TEST_REQUEST_DEFAULT_FORMAT": "json",
        },
        "SPECTACULAR_SETTINGS": {
            "TITLE": f"{service} service API",
            # The service's API version: a breaking change raises its major (README, Releases).
            "VERSION": api_version,
            # Tags and operation ids start after /api/v1: "orders", "orders_list".
            "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
            "SERVE_INCLUDE_SCHEMA": False,
            "COMPONENT_SPLIT_REQUEST": True,
            # Swagger UI's assets come from the service itself, not a CDN.
            "SWAGGER_UI_DIST": "SIDECAR",
            "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
            "REDOC_DIST": "SIDECAR",
            # Summaries, error responses, tags and servers (service_kit.api.openapi).
            "POSTPROCESSING_HOOKS": [
                "drf_spectacular.hooks.postprocess_schema_enums",
                "service_kit.api.openapi.document_errors",
                "service_kit.api.openapi.tidy",
            ],
        },
        "LOGGING": logging_settings(service),
        "SENTRY_DSN": env_value("SENTRY_DSN", ""),
        # Messaging (see service_kit.messaging).
        **broker_settings(var),
        "MESSAGING": {
            "CONSUMES": list(consumes),
            "COMMANDS": list(commands),
            "WORKER": worker,
            "MAX_RETRIES": env.int("MESSAGING_MAX_RETRIES", 3),
            "RETRY_BACKOFF": env.float("MESSAGING_RETRY_BACKOFF", 1.0),
            "OUTBOX_SWEEP_INTERVAL": env.float("OUTBOX_SWEEP_INTERVAL", 5.0),
            "OUTBOX_SWEEP_AGE": env.float("OUTBOX_SWEEP_AGE", 2.0),
            "PUBLISH_TIMEOUT": env.float("PUBLISH_TIMEOUT", 2.0),
            # "integer" while the release before may still consume (docs/messages.md), then "minor".
            "VERSION_FORMAT": env("MESSAGING_VERSION_FORMAT", default="integer"),
        },
        "MIGRATION_LINTER_OPTIONS": {"exclude_apps": ["admin", "auth", "contenttypes", "sessions"]},
        "JWT": jwt_settings(),
        # Staff sign in to the admin with their auth_service identity (see service_kit.admin_sso);
        # the roles, their second factor and their admin permissions: service_kit.roles.
        "MFA_ROLES": list(roles.MFA_ROLES),
        "ADMIN_SSO": {
            # None: as long as a deactivation marker lives (access token lifetime + 60 s).
            "IDLE_TIMEOUT": env.int("ADMIN_IDLE_TIMEOUT", 0) or None,
        },
        "ADMIN_ROLE_PERMISSIONS": {
            role: list(p) for role, p in roles.ADMIN_ROLE_PERMISSIONS.items()
        },
        "IDEMPOTENCY_KEY_TTL": env.int("IDEMPOTENCY_KEY_TTL", 24 * 3600),
        # Service-to-service HTTP (see service_kit.http).
        "UPSTREAMS": {
            name: os.environ.get(f"{name.upper()}_SERVICE_URL", f"http://127.0.0.1:{p}")
            for name, p in SERVICE_PORTS.items()
        },
        "HTTP_CLIENT": {
            "CONNECT_TIMEOUT": env.float("HTTP_CONNECT_TIMEOUT", 1.0),
            "READ_TIMEOUT": env.float("HTTP_READ_TIMEOUT", 5.0),
            "RETRIES": env.int("HTTP_RETRIES", 2),
            "BREAKER_FAILURES": env.int("BREAKER_FAILURES", 5),
            "BREAKER_RESET_TIMEOUT": env.float("BREAKER_RESET_TIMEOUT", 10.0),
        },
        **storage_settings(var),
    }
    settings.update(extra)
    return settings


def https_settings() -> dict[str, Any]:
    """HTTPS behind a proxy. TLS ends at the ingress in front of the gateway, which says so in
    ``X-Forwarded-Proto`` (the gateway passes it on to the services it proxies).

    ``HTTPS_ONLY`` (the image sets it; off by default, so that the embedded profile and local
    runs work on plain http://127.0.0.1) says users reach the platform over HTTPS only: cookies
    are then sent over HTTPS only and browsers are told to keep to HTTPS (HSTS, a year by
    default). Each part can still be set on its own: ``SECURE_COOKIES``, ``SECURE_HSTS_SECONDS``,
    ``SECURE_HSTS_INCLUDE_SUBDOMAINS``, ``SECURE_HSTS_PRELOAD``, ``SECURE_SSL_REDIRECT``.
    """
    https_only = env.bool("HTTPS_ONLY", False)
    secure_cookies = env.bool("SECURE_COOKIES", https_only)
    return {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SESSION_COOKIE_SECURE": secure_cookies,
        "CSRF_COOKIE_SECURE": secure_cookies,
        # Sent on HTTPS answers only (SecurityMiddleware), so harmless on plain http.
        "SECURE_HSTS_SECONDS": env.int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if https_only else 0),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True),
        "SECURE_HSTS_PRELOAD": env.bool("SECURE_HSTS_PRELOAD", False),
        # Off by default: redirecting plain HTTP is the ingress's job (see SILENCED_SYSTEM_CHECKS).
        # Turn it on only where users reach this process directly; probes and scrapes still
        # answer over plain HTTP.
        "SECURE_SSL_REDIRECT": env.bool("SECURE_SSL_REDIRECT", False),
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SILENCED_SYSTEM_CHECKS": [
            # security.W008 (SECURE_SSL_REDIRECT off): plain HTTP never reaches us from users;
            # the ingress redirects it. Inside the cluster the gateway, the other services,
            # Prometheus and the kubelet's probes speak plain HTTP over the mesh (mTLS), with no
            # X-Forwarded-Proto: a redirect here would send each of them away.
            "security.W008",
            # security.W021 (HSTS preload off): the preload list binds the whole registrable
            # domain for good; that is its owner's decision (SECURE_HSTS_PRELOAD), not a default.
            "security.W021",
        ],
    }


def mail_settings() -> dict[str, Any]:
    """Mail for a service that sends it (auth_service's password resets): SMTP when ``EMAIL_URL``
    (or ``EMAIL_URL_FILE``) is set, e.g. ``smtp+tls://user:password@smtp.example.com:587``; else
    the console, which the real profile refuses (``service_kit.E005``: it would print what the
    mail carries, a reset token, into the shipped logs). ``EMAIL_BACKEND`` names another backend
    outright; ``EMAIL_TIMEOUT`` (10 s) and ``DEFAULT_FROM_EMAIL`` as in Django."""
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
    }


#: The platform's services, the one list of them: each is the folder ``<name>_service`` (the
#: gateway's is ``gateway``), and its place here is its local port (gateway 8000, auth 8001 …;
#: ``PLATFORM_PORT_BASE`` moves the block). ``make new-service`` appends to it.
SERVICE_NAMES = (
    "gateway",
    "auth",
    "user",
    "product",
    "inventory",
    "order",
    "payment",
)
_PORT_BASE = int(os.environ.get("PLATFORM_PORT_BASE", "8000"))
SERVICE_PORTS = {name: _PORT_BASE + offset for offset, name in enumerate(SERVICE_NAMES)}


def jwt_settings() -> dict[str, Any]:
    """Access tokens: who signs them, for whom, and where their public keys are."""
    auth_url = os.environ.get("AUTH_SERVICE_URL", f"http://127.0.0.1:{SERVICE_PORTS['auth']}")
    return {
        "ISSUER": os.environ.get("JWT_ISSUER", "platform-auth"),
        "AUDIENCE": os.environ.get("JWT_AUDIENCE", "platform"),
        "ALGORITHMS": ["RS256"],
        "JWKS_URL": os.environ.get("JWT_JWKS_URL", f"{auth_url}/.well-known/jwks.json"),
        # auth_service reads its own keys from its database instead (a dotted path).
        "JWKS_SOURCE": None,
        "JWKS_CACHE_SECONDS": env.float("JWT_JWKS_CACHE_SECONDS", 300.0),
        "JWKS_TIMEOUT": env.float("JWT_JWKS_TIMEOUT", 2.0),
        "LEEWAY": env.int("JWT_LEEWAY", 5),
        "ACCESS_TOKEN_LIFETIME": env.int("JWT_ACCESS_TOKEN_LIFETIME", 300),
        "REFRESH_TOKEN_LIFETIME": env.int("JWT_REFRESH_TOKEN_LIFETIME", 7 * 24 * 3600),
        "SERVICE_TOKEN_LIFETIME": env.int("JWT_SERVICE_TOKEN_LIFETIME", 300),
    }


def logging_settings(service: str) -> dict[str, Any]:
    level = os.environ.get("LOG_LEVEL", "INFO")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "service_kit.ops.logs.ContextFilter", "service": service},
            # No token, password, secret or card token in any line (service_kit.ops.logs).
            "redact": {"()": "service_kit.ops.logs.RedactFilter"},
        },
        "formatters": {"ecs": {"()": "ecs_logging.StdlibFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "ecs",
                "filters": ["context", "redact"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The kit writes its own access line; Django's would say the same thing twice.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "celery": {"level": level},
            # One line per task: Celery's "succeeded" (or its failure) names the task, its id
            # (the message's) and how long it ran; its "received" line would add a second
            # (still written at DEBUG).
            "celery.worker.strategy": {"level": "WARNING" if level.upper() == "INFO" else level},
        },
    }
