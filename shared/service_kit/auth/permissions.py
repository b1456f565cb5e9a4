"""Permissions for token users: owner-only, role-based and scope-based access."""

from __future__ import annotations

from rest_framework import permissions


class IsAuthenticated(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_authenticated", False))


class IsUser(IsAuthenticated):
    """A person's token (not a service identity's)."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and not request.user.is_service


def HasRole(*roles: str) -> type[permissions.BasePermission]:
    """Staff with one of ``roles`` (``admin`` may do everything)."""

    class _HasRole(IsAuthenticated):
        def has_permission(self, request, view) -> bool:
            user = request.user
            return super().has_permission(request, view) and (
                not user.is_service and user.has_role(*roles)
            )

    _HasRole.__name__ = f"HasRole({', '.join(roles)})"
    return _HasRole


def HasScope(*scopes: str) -> type[permissions.BasePermission]:
    """A service identity whose token carries every one of ``scopes``."""

    class _HasScope(IsAuthenticated):
        def has_permission(self, request, view) -> bool:
            user = request.user
            return (
                super().has_permission(request, view)
                and user.is_service
                and set(scopes) <= user.scopes
            )

    _HasScope.__name__ = f"HasScope({', '.join(scopes)})"
    return _HasScope


class IsOwner(permissions.BasePermission):
    """Object-level: the object's ``user_id`` is the caller's (views answer 404 otherwise)."""

    def has_object_permission(self, request, view, obj) -> bool:
        return str(getattr(obj, "user_id", None)) == str(request.user.id)
