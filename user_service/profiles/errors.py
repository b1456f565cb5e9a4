"""The errors profiles' services raise, in the platform's vocabulary (codes from API.md)."""

from __future__ import annotations

from rest_framework import status

from service_kit.api import ApplicationError, Conflict, PayloadTooLarge

__all__ = [
    "AddressBookFull",
    "AddressNotFound",
    "AvatarTooLarge",
    "InvalidInput",
    "ProfileNotFound",
]


class InvalidInput(ApplicationError):
    """Input the domain refuses; ``details`` maps field → messages, like DRF's own 400s."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "validation_error"
    default_detail = "The request is not valid."


class ProfileNotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "No active profile exists for this user."


class AddressNotFound(ApplicationError):
    # Also for another user's address: its existence is nobody else's business.
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "No such address."


class AddressBookFull(Conflict):
    default_detail = "The address book is full: delete an address before adding another."


class AvatarTooLarge(PayloadTooLarge):
    default_detail = "The avatar is too large."
