"""gateway: the front door (routing, JWT enforcement, throttling); the rest: the kit."""

from corsheaders.defaults import default_headers
from edge.conf import gateway_settings

from service_kit.conf import env, service_settings

_settings = service_settings(
    service="gateway",
    apps=["corsheaders", "edge"],
    worker=False,
    # The gateway faces clients: their X-Forwarded-Prefix and -Host are not believed (set these
    # when an ingress in front of the gateway sets them).
    TRUST_FORWARDED_PREFIX=env.bool("TRUST_FORWARDED_PREFIX", False),
    USE_X_FORWARDED_HOST=env.bool("USE_X_FORWARDED_HOST", False),
    # CORS for browsers on these origins (django-cors-headers on the gateway's own pages; the
    # edge answers proxied paths from the same settings).
    CORS_ALLOWED_ORIGINS=env.list("CORS_ALLOWED_ORIGINS", default=[]),
    CORS_ALLOW_HEADERS=(*default_headers, "idempotency-key", "x-request-id"),
    CORS_EXPOSE_HEADERS=["X-Request-ID", "Retry-After"],
    CORS_PREFLIGHT_MAX_AGE=env.int("CORS_PREFLIGHT_MAX_AGE", 600),
    # /status and /api/docs/ over the upstreams (edge.views); unset: every upstream.
    READYZ_UPSTREAMS=env.list("READYZ_UPSTREAMS", default=None),
    READYZ_TIMEOUT=(env.float("READYZ_CONNECT_TIMEOUT", 0.5), env.float("READYZ_TIMEOUT", 3.0)),
    # /readyz's checks and /status's round of upstream calls: once per this many seconds,
    # however many callers.
    READYZ_CACHE_SECONDS=env.float("READYZ_CACHE_SECONDS", 2.0),
    API_DOCS_SERVICES=env.list("API_DOCS_SERVICES", default=None),
    API_SCHEMA_TIMEOUT=(1.0, env.float("API_SCHEMA_TIMEOUT", 10.0)),
    API_SCHEMA_CACHE_SECONDS=env.float("API_SCHEMA_CACHE_SECONDS", 60.0),
    # The staff front page's figures and activity (edge.figures): each service asked within
    # (connect, read) seconds, its answer kept this many seconds.
    CONSOLE_TIMEOUT=(env.float("CONSOLE_CONNECT_TIMEOUT", 0.5), env.float("CONSOLE_TIMEOUT", 2.0)),
    CONSOLE_CACHE_SECONDS=env.float("CONSOLE_CACHE_SECONDS", 10.0),
    # The edge: body limit, throttle budgets, upstream timeouts, pools (edge/conf.py).
    **gateway_settings(),
)
# As early as possible: before anything that answers by itself (413s, whitenoise, redirects).
_settings["MIDDLEWARE"].insert(
    _settings["MIDDLEWARE"].index("service_kit.ops.middleware.ApiBodyMiddleware"),
    "corsheaders.middleware.CorsMiddleware",
)
# The client's address, wherever the gateway's own Django reads it (its admin's sign-in counts
# failures against it), is the edge's: only GATEWAY_TRUSTED_PROXIES' X-Forwarded-For is believed.
_settings["TRUSTED_PROXIES"] = _settings["GATEWAY_TRUSTED_PROXIES"]
globals().update(_settings)
