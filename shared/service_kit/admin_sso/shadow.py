"""Shadow staff users: the local row the admin needs for its sessions and its log, made and
updated from auth_service's claims at each sign-in. It never has a usable password."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

from .identity import Identity
from .roles import role_groups_sync


@transaction.atomic
def shadow_user_sync(identity: Identity) -> AbstractBaseUser:
    """The shadow user of ``identity`` (username: the email), created or brought up to date:
    staff flag, superuser iff the ``admin`` role, one group per staff role and no others."""
    User = get_user_model()
    user, created = User.objects.select_for_update().get_or_create(
        **{User.USERNAME_FIELD: identity.email}, defaults={"email": identity.email}
    )
    user.email = identity.email
    user.is_staff = identity.is_staff
    user.is_superuser = "admin" in identity.roles
    user.is_active = True
    if created or not user.password or user.has_usable_password():
        # Only when needed: the session hash derives from this field, so changing it at every
        # sign-in would end the person's sessions in their other browsers.
        user.set_unusable_password()
    user.save()
    user.groups.set(role_groups_sync(identity.staff_roles))
    return user
