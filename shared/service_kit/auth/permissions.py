"""Permissions for token users: people, role-based and scope-based access.

Ownership is not a permission class: each service's selectors scope a customer's queries to their
own rows, so another person's object is a 404 before any permission is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions

from .verify import TokenUser

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


def _token_user(request: Request) -> TokenUser | None:
    """The caller when a token authenticated it (JWTAuthentication is the only scheme)."""
    user = request.user
    return user if isinstance(user, TokenUser) else None


class IsAuthenticated(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(getattr(request.user, "is_authenticated", False))


class IsUser(IsAuthenticated):
    """A person's token (not a service identity's)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = _token_user(request)
        return super().has_permission(request, view) and user is not None and not user.is_service


def HasRole(*roles: str) -> type[permissions.BasePermission]:
    """Staff with one of ``roles`` (``admin`` may do everything)."""

    class _HasRole(IsAuthenticated):
        def has_permission(self, request: Request, view: APIView) -> bool:
            user = _token_user(request)
            return super().has_permission(request, view) and (
                user is not None and not user.is_service and user.has_role(*roles)
            )

    _HasRole.__name__ = f"HasRole({', '.join(roles)})"
    return _HasRole


def HasScope(*scopes: str) -> type[permissions.BasePermission]:
    """A service identity whose token carries every one of ``scopes``."""

    class _HasScope(IsAuthenticated):
        def has_permission(self, request: Request, view: APIView) -> bool:
            user = _token_user(request)
            return (
                super().has_permission(request, view)
                and user is not None
                and user.is_service
                and set(scopes) <= user.scopes
            )

    _HasScope.__name__ = f"HasScope({', '.join(scopes)})"
    return _HasScope
