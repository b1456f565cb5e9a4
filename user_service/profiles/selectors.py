"""Reads of profiles and addresses (no side effects)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from .errors import AddressNotFound, ProfileNotFound
from .models import Address, Profile


def profile_get_active(*, user_id: UUID) -> Profile:
    """The profile a user sees as theirs: a deactivated or erased one is gone for them (404)."""
    profile = Profile.objects.filter(pk=user_id, is_active=True).first()
    if profile is None:
        raise ProfileNotFound()
    return profile


def profile_get(*, user_id: UUID) -> Profile:
    """Any profile, inactive and erased ones included (staff and services), with its addresses."""
    profile = Profile.objects.prefetch_related("addresses").filter(pk=user_id).first()
    if profile is None:
        raise ProfileNotFound("No profile exists for this user.")
    return profile


def address_list(*, user_id: UUID) -> QuerySet[Address]:
    """A user's addresses, the default first, then oldest first."""
    return Address.objects.filter(user_id=user_id)


def address_get(*, user_id: UUID, address_id: UUID) -> Address:
    """One of the user's own addresses; another user's is not found, exactly like a missing one."""
    address = Address.objects.filter(user_id=user_id, pk=address_id).first()
    if address is None:
        raise AddressNotFound()
    return address
