"""The errors profiles' services raise, in the platform's vocabulary (codes: docs/api.md#errors)."""

from __future__ import annotations

from service_kit.api import Conflict, InvalidInput, NotFound, PayloadTooLarge

__all__ = [
    "AddressBookFull",
    "AddressNotFound",
    "AvatarTooLarge",
    "InvalidInput",
    "ProfileNotFound",
]


class ProfileNotFound(NotFound):
    default_detail = "No active profile exists for this user."


class AddressNotFound(NotFound):
    default_detail = "No such address."


class AddressBookFull(Conflict):
    default_detail = "The address book is full: delete an address before adding another."


class AvatarTooLarge(PayloadTooLarge):
    default_detail = "The avatar is too large."
