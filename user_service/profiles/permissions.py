"""Permissions the kit does not have (the kit's own are in service_kit.auth.permissions)."""

from __future__ import annotations

from service_kit.auth import IsAuthenticated


class IsStaff(IsAuthenticated):
    """A person whose token says ``is_staff`` (combine with ``HasRole`` for what they may do:
    a staff role without the staff flag, or the flag without a role, is not enough)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return super().has_permission(request, view) and not user.is_service and user.is_staff
