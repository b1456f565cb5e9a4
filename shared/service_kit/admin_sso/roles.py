"""Staff roles to Django groups: each role a group holding the permissions this service's
``settings.ADMIN_ROLE_PERMISSIONS`` grants it (the platform's map: ``service_kit.roles``).

Patterns name permissions as ``app_label.codename`` with shell wildcards; one starting with ``!``
takes away what the others grant::

    ADMIN_ROLE_PERMISSIONS = {
        "catalogue_manager": ["catalogue.*"],
        "support": ["*.view_*", "!otp_totp.*"],
    }
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from service_kit.roles import ADMIN_ROLE_PERMISSIONS

if TYPE_CHECKING:  # imported where used: the app registry must be ready
    from django.contrib.auth.models import Group, Permission


def role_permission_patterns() -> dict[str, Iterable[str]]:
    return getattr(settings, "ADMIN_ROLE_PERMISSIONS", ADMIN_ROLE_PERMISSIONS)


def permission_granted(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``app_label.codename`` is granted: matched by a pattern and by no ``!`` pattern."""
    granted = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if fnmatchcase(name, pattern[1:]):
                return False
        elif fnmatchcase(name, pattern):
            granted = True
    return granted


def role_permissions(role: str) -> list[Permission]:
    """The permissions of this service's models that ``role`` holds."""
    from django.contrib.auth.models import Permission

    patterns = role_permission_patterns().get(role, ())
    if not patterns:
        return []
    return [
        permission
        for permission in Permission.objects.select_related("content_type")
        if permission_granted(
            f"{permission.content_type.app_label}.{permission.codename}", patterns
        )
    ]


@transaction.atomic
def role_groups_sync(roles: Iterable[str]) -> list[Group]:
    """The group of each role, its permissions set afresh from the setting."""
    from django.contrib.auth.models import Group

    groups = []
    for role in sorted(set(roles)):
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(role_permissions(role))
        groups.append(group)
    return groups
