"""Which upstream a path belongs to, what it is called there, and who may call it.

Routes are matched by path prefix, longest first; a path no route claims goes to Django. The
route's ``name`` is the label of its metrics (never the raw path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Access kinds: ``api`` needs a valid access token unless the method or exact path is public;
#: ``public`` never does; ``admin`` pages authenticate themselves (sessions, sign-in through
#: auth_service); ``static`` are the admins' static files.
API, PUBLIC, ADMIN, STATIC = "api", "public", "admin", "static"

#: Methods that are public on every API route: CORS preflights carry no token, and a service
#: answers OPTIONS with its own permission checks.
PUBLIC_METHODS = frozenset({"OPTIONS"})
READ_METHODS = frozenset({"GET", "HEAD"})

#: auth_service's endpoints that work without a token (exact paths: ``token/../me/`` is not one).
AUTH_PUBLIC_PATHS = frozenset(
    {
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/auth/password/reset/",
        "/api/v1/auth/password/reset/confirm/",
        "/api/v1/auth/service-token/",
    }
)
#: Sign-in, registration and password reset: the tighter ``auth`` budget per client address.
AUTH_SENSITIVE_PATHS = frozenset(
    {
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/auth/password/reset/",
        "/api/v1/auth/password/reset/confirm/",
    }
)

#: The admins behind the gateway: ``/admin/<segment>/`` → that upstream's ``/admin/``.
ADMIN_SEGMENTS = {
    "auth": "auth",
    "users": "user",
    "products": "product",
    "inventory": "inventory",
    "orders": "order",
    "payments": "payment",
}


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    prefix: str  # as the client sends it, ending in "/" (or a whole path)
    upstream: str  # a key of settings.UPSTREAMS
    kind: str = API
    upstream_prefix: str | None = None  # replaces ``prefix`` upstream-side (None: unchanged)
    forwarded_prefix: str | None = None  # sent as X-Forwarded-Prefix
    public_paths: frozenset[str] = frozenset()
    public_methods: frozenset[str] = PUBLIC_METHODS
    sensitive_paths: frozenset[str] = frozenset()
    local: bool = False  # served by the gateway's own Django once the edge's checks pass
    _bare: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bare", self.prefix.rstrip("/"))

    def claims(self, path: str) -> bool:
        return path.startswith(self.prefix) or path == self._bare

    def upstream_path(self, path: str) -> str:
        if self.upstream_prefix is None:
            return path
        return self.upstream_prefix + path[len(self.prefix) :]

    def is_public(self, method: str, path: str) -> bool:
        if self.kind != API:
            return True
        return method in self.public_methods or path in self.public_paths

    def is_sensitive(self, method: str, path: str) -> bool:
        """Sign-in, registration, password reset: counted against the ``auth`` budget too."""
        if self.kind == ADMIN:
            return method == "POST" and path.endswith("/login/")
        return path in self.sensitive_paths


def default_routes() -> list[Route]:
    routes = [
        Route(
            "auth",
            "/api/v1/auth/",
            "auth",
            public_paths=AUTH_PUBLIC_PATHS,
            sensitive_paths=AUTH_SENSITIVE_PATHS,
        ),
        Route("jwks", "/.well-known/jwks.json", "auth", kind=PUBLIC),
        Route("users", "/api/v1/users/", "user"),
        Route(
            "products", "/api/v1/products/", "product", public_methods=PUBLIC_METHODS | READ_METHODS
        ),
        Route(
            "categories",
            "/api/v1/categories/",
            "product",
            public_methods=PUBLIC_METHODS | READ_METHODS,
        ),
        Route("inventory", "/api/v1/inventory/", "inventory"),
        Route("orders", "/api/v1/orders/", "order"),
        Route("payments", "/api/v1/payments/", "payment"),
    ]
    # The gateway's own admin: its sign-in is throttled like every other admin's.
    routes.append(Route("admin-gateway", "/admin/gateway/", "gateway", kind=ADMIN, local=True))
    for segment, upstream in ADMIN_SEGMENTS.items():
        mount = f"/admin/{segment}"
        routes.append(
            Route(
                f"admin-{segment}-static",
                f"{mount}/static/",
                upstream,
                kind=STATIC,
                upstream_prefix="/static/",
                forwarded_prefix=mount,
            )
        )
        routes.append(
            Route(
                f"admin-{segment}",
                f"{mount}/",
                upstream,
                kind=ADMIN,
                upstream_prefix="/admin/",
                forwarded_prefix=mount,
            )
        )
    return routes


class Router:
    """Finds the route of a path: a handful of ``startswith`` checks, longest prefix first."""

    def __init__(self, routes: list[Route]):
        self.routes = tuple(sorted(routes, key=lambda route: len(route.prefix), reverse=True))
        # Every route lives under one of these: most of Django's paths are refused by one check.
        self.roots = tuple({"/" + route.prefix.split("/", 2)[1] for route in self.routes})

    def match(self, path: str) -> Route | None:
        if not path.startswith(self.roots):
            return None
        for route in self.routes:
            if route.claims(path):
                return route
        return None
