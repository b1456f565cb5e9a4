"""A service behind a path prefix: its admin at ``/admin/<service>/`` on the gateway.

The gateway sends ``/admin/products/catalogue/product/`` to product_service as
``/admin/catalogue/product/`` with ``X-Forwarded-Prefix: /admin/products`` (and ``X-Forwarded-Host``
/ ``-Proto``). For such a request, :class:`ForwardedPrefixMiddleware` makes everything the service
writes come out under the prefix, as the browser must see it:

- **links, redirects and form actions**: the request runs with Django's script prefix (and
  ``SCRIPT_NAME``) set to the prefix, against a URLconf in which the service's admin (the route
  named by ``FORWARDED_PREFIX_MOUNT``, ``"admin/"``) sits at the root. ``reverse("admin:index")``
  is then ``/admin/products/``, the sign-in redirect
  ``/admin/products/login/?next=/admin/products/``, and ``request.path`` (hence ``?next=``, the
  login form's action, ``APPEND_SLASH``) the path the browser asked for. Both are put back when
  the request ends: the thread serves the next one without a prefix.
- **static files**: ``/admin/products/static/…`` reaches the service as ``/static/…`` (or as
  ``/admin/static/…``, made ``/static/…`` here) and whitenoise serves it;
  :class:`ForwardedStaticFilesStorage` writes static URLs under the prefix. (Django's relative
  ``STATIC_URL`` alone is not enough: ``settings.STATIC_URL`` and the storage's base URL are
  computed once per process, with whichever prefix came first.)
- **cookies**: every cookie the answer sets is scoped to the prefix's path. Names are per service
  already (``<service>_sessionid``, ``<service>_csrftoken``); with the paths as well, two admins
  open in one browser neither log each other out nor send each other their cookies.

A path that is not under the mount (a proxy that strips its prefix entirely) gets the plain
``SCRIPT_NAME`` meaning: the browser's path is the prefix followed by the service's own path.

**Trust.** ``TRUST_FORWARDED_PREFIX`` (environment, default true) says the header comes from our
own gateway: services are reachable only through the mesh and the gateway, or on loopback, and
the gateway sets the ``X-Forwarded-*`` headers itself. Where a service can be reached by clients
directly, set it to false (the middleware then removes itself). The gateway's own Django, which
faces clients, does not trust it. A prefix that is not a plain path (``//host``, ``..``, a scheme)
is ignored.

**CSRF** for the admin's forms through the gateway: the browser's ``Origin`` is the gateway's, so
the service honours ``X-Forwarded-Host`` (``USE_X_FORWARDED_HOST``, same default as the trust
above): ``request.get_host()`` is then the gateway's host, Django's own origin check passes and
absolute URLs (pagination links) name the gateway, not an internal address. The forwarded host is
still checked against ``ALLOWED_HOSTS``, which must therefore list the gateway's public host(s).
``CSRF_TRUSTED_ORIGINS`` (environment) stays available for origins other than the host itself.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, get_script_prefix, path, set_script_prefix
from whitenoise.storage import CompressedStaticFilesStorage

logger = logging.getLogger(__name__)

HEADER = "HTTP_X_FORWARDED_PREFIX"

#: A plain absolute path: one or more segments of unreserved characters, no "." or "..".
_PREFIX = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)+")
_MAX_PREFIX = 200

#: The prefix of the request being served (empty outside one): read by the static storage.
forwarded_prefix: contextvars.ContextVar[str] = contextvars.ContextVar(
    "forwarded_prefix", default=""
)


def client_address(meta: Mapping[str, Any], trusted_proxies: int | None = None) -> str:
    """The client's address for a request's ``META`` (or a WSGI environ).

    ``trusted_proxies`` (setting ``TRUSTED_PROXIES``, default 1: our gateway) is how many proxies
    in front of this process append the address they were called from to ``X-Forwarded-For``;
    the entry the outermost of them wrote is the client. Entries before it were written by the
    client itself and prove nothing. Without the header (a direct call) it is ``REMOTE_ADDR``.
    """
    peer: str = meta.get("REMOTE_ADDR") or ""
    if trusted_proxies is None:
        trusted_proxies = settings.TRUSTED_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") if trusted_proxies > 0 else None
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    return hops[-min(trusted_proxies, len(hops))] if hops else peer


def clean_prefix(value: str | None) -> str:
    """``/admin/products`` from the header's value, or ``""`` when there is none or it is not a
    plain path (trailing slashes are dropped; ``/`` alone means no prefix)."""
    if not value or len(value) > _MAX_PREFIX:
        return ""
    value = value.strip().rstrip("/")
    return value if _PREFIX.fullmatch(value) else ""


class MountedURLConf:
    """The root URLconf's mount (``admin/``) at the root, with the root's error handlers.

    Used as ``request.urlconf`` (it is hashable, as Django's resolver cache needs)."""

    def __init__(self, root: str, mount: str) -> None:
        self.root = root
        self.mount = mount

    @cached_property
    def urlpatterns(self) -> list[URLPattern | URLResolver]:
        module = import_module(self.root)
        for pattern in module.urlpatterns:
            if isinstance(pattern, URLResolver) and str(pattern.pattern) == self.mount:
                return [
                    path(
                        "",
                        # include()'s tuple, whose URLconf may be a module: the stubs know
                        # only a list of patterns there
                        (pattern.urlconf_name, pattern.app_name, pattern.namespace),  # type: ignore[arg-type]
                        pattern.default_kwargs,
                    )
                ]
        return []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("handler"):  # handler400 … handler500: the platform's error bodies
            return getattr(import_module(self.root), name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"<MountedURLConf {self.root}:{self.mount}>"


_mounted: dict[tuple[str, str], MountedURLConf] = {}


def mounted_urlconf(root: str, mount: str) -> MountedURLConf:
    key = (root, mount)
    if key not in _mounted:
        _mounted[key] = MountedURLConf(root, mount)
    return _mounted[key]


class ForwardedPrefixMiddleware:
    """Serves a request carrying ``X-Forwarded-Prefix`` as if mounted there (module docstring).

    Place it early: before whitenoise (it serves the prefixed static paths), the session, CSRF and
    common middleware and the admin; after anything that looks at the service's own path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if not getattr(settings, "TRUST_FORWARDED_PREFIX", True):
            raise MiddlewareNotUsed
        self.get_response = get_response
        # "/admin/" → "/admin": the internal path the gateway puts in place of the prefix.
        route = getattr(settings, "FORWARDED_PREFIX_MOUNT", "admin/").strip("/")
        self.mount_route = f"{route}/"
        self.mount = f"/{route}"
        # Fix the unprefixed static and media URLs now, while no request has a prefix: Django
        # caches them (with the script prefix of the moment) on first use.
        settings.STATIC_URL  # noqa: B018
        settings.MEDIA_URL  # noqa: B018

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        prefix = clean_prefix(request.META.get(HEADER))
        if not prefix:
            return self.get_response(request)
        inner = request.path_info
        if inner == self.mount or inner.startswith(self.mount + "/"):
            # The gateway put the mount in place of the prefix: the mount is the root here.
            inner = inner[len(self.mount) :] or "/"
            request.urlconf = mounted_urlconf(  # type: ignore[attr-defined]  # Django reads it if set
                getattr(request, "urlconf", None) or settings.ROOT_URLCONF, self.mount_route
            )
        request.path_info = request.META["PATH_INFO"] = inner
        request.path = prefix + inner
        request.META["SCRIPT_NAME"] = prefix
        previous = get_script_prefix()
        set_script_prefix(prefix)
        token = forwarded_prefix.set(prefix)
        try:
            response = self.get_response(request)
        finally:
            forwarded_prefix.reset(token)
            set_script_prefix(previous)
        for morsel in response.cookies.values():
            cookie_path = morsel["path"] or "/"
            if cookie_path.startswith("/") and not cookie_path.startswith(prefix + "/"):
                morsel["path"] = prefix + cookie_path
        return response


class ForwardedStaticFilesStorage(CompressedStaticFilesStorage):
    """Whitenoise's storage, whose URLs carry the request's forwarded prefix (if any)."""

    def url(self, name: str | None) -> str:
        url = super().url(name)
        prefix = forwarded_prefix.get()
        if prefix and url.startswith("/") and not url.startswith("//"):
            return prefix + url
        return url
