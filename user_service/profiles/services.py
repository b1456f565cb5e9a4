"""Writes: profiles from auth_service's events, the user's own edits, addresses and avatars.

Events may be delivered more than once and, across retries and dead-letter replays, out of order.
So every event service is idempotent, and erasure leaves a tombstone that no later event can
fill with personal data again.
"""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from service_kit.models import DeadLetter

from . import accounts
from .errors import AddressBookFull, AvatarTooLarge, InvalidInput, ProfileNotFound
from .models import Address, Profile
from .selectors import address_get, profile_get_active

logger = logging.getLogger(__name__)

#: A user's address book holds at most this many addresses.
ADDRESS_LIMIT = 50
#: Preferences are a small settings document, not a data store.
PREFERENCES_MAX_KEYS = 50
PREFERENCES_MAX_BYTES = 8 * 1024
#: The parsers that may look at an upload at all (Pillow's names).
AVATAR_PARSERS = ("JPEG", "PNG", "WEBP")
#: What the parsers may report → the extension the stored file gets. MPO is what many phone
#: cameras write: a JPEG with extra frames (Pillow's JPEG parser reports it), shown by every
#: JPEG reader.
AVATAR_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
AVATAR_TYPE_MESSAGE = "Upload a JPEG, PNG or WebP image."

NAME_MAX_LENGTH = Profile._meta.get_field("first_name").max_length


def erased_email(user_id: UUID) -> str:
    """The placeholder an erased profile keeps: unique, obviously not an address, and in the
    ``.invalid`` top-level domain reserved never to resolve (RFC 2606)."""
    return f"erased+{user_id}@erased.invalid"


def _avatar_storage() -> Storage:
    # The field's storage is Django's default storage (S3 when S3_BUCKET is set, local disk
    # otherwise), looked up on each use so that settings changes are honoured.
    return Profile._meta.get_field("avatar").storage


def _locked_profile(user_id: UUID) -> Profile:
    """The user's active profile, locked for this transaction: a user's writes go one at a time,
    which is what keeps "exactly one default address" true under concurrent requests."""
    profile = Profile.objects.select_for_update().filter(pk=user_id, is_active=True).first()
    if profile is None:
        raise ProfileNotFound()
    return profile


# -- profiles from auth_service's events ----------------------------------------------------------


def profile_register(
    *, user_id: UUID, email: str, first_name: str = "", last_name: str = ""
) -> tuple[Profile, bool]:
    """Create the profile of a newly registered user, or merge the event into the profile the
    user's first request made from the token's claims (:func:`profile_from_claims`).

    Returns the profile and whether it was created. The merge happens once (``registered_at``):
    it fills in the names the user has not set meanwhile, and never touches an erased profile.
    The inbox already drops a redelivered message, so a registered profile here means another
    ``user.registered`` for the same user (a replay with a new message id): left as it is.
    """
    # The event is not bound by our column sizes; a too long name must not dead-letter it.
    names = {"first_name": first_name[:NAME_MAX_LENGTH], "last_name": last_name[:NAME_MAX_LENGTH]}
    now = timezone.now()
    with transaction.atomic():
        profile, created = Profile.objects.select_for_update().get_or_create(
            pk=user_id, defaults={"email": email, "registered_at": now, **names}
        )
        merged = not created and profile.registered_at is None and not profile.is_erased
        if merged:
            for name, value in names.items():
                if value and not getattr(profile, name):
                    setattr(profile, name, value)
            profile.registered_at = now
            profile.save(update_fields=[*names, "registered_at", "updated_at"])
    event = "registered" if created else "register_merged" if merged else "register_skipped"
    logger.info(f"profile.{event}", extra={"user_id": str(user_id)})
    return profile, created


def profile_from_claims(*, user_id: UUID, email: str) -> Profile:
    """The caller's active profile, made from their token's claims when ``user.registered`` has
    not been applied yet (the broker down, the worker behind): a service answers its own user
    without waiting for an event. A deactivated or erased profile stays gone (404)."""
    profile = Profile.objects.filter(pk=user_id).first()
    if profile is None:
        profile, created = Profile.objects.get_or_create(pk=user_id, defaults={"email": email})
        if created:
            logger.info("profile.started_from_token", extra={"user_id": str(user_id)})
    if not profile.is_active:
        raise ProfileNotFound()
    return profile


def profile_from_account(*, user_id: UUID) -> None:
    """Any user's profile, for staff and services reading it by id: made from auth_service's
    account when ``user.registered`` has not been applied yet, as it would be then (a
    deactivated account's inactive, an erased one's a tombstone). An existing profile is left as
    it is and auth_service is not asked. The event merges into the made profile later
    (:func:`profile_register`), and a profile the event makes meanwhile is the one kept (one row
    per user: get_or_create).

    No such account: ``ProfileNotFound``; auth_service not answering: the kit's 503/504."""
    if Profile.objects.filter(pk=user_id).exists():
        return
    account = accounts.account_get(user_id=user_id)
    if account is None:
        raise ProfileNotFound("No profile exists for this user.")
    defaults: dict[str, Any]
    if account.is_erased:
        defaults = {
            "email": erased_email(user_id),
            "is_active": False,
            "erased_at": timezone.now(),
        }
    else:
        defaults = {
            "email": account.email,
            "first_name": account.first_name[:NAME_MAX_LENGTH],
            "last_name": account.last_name[:NAME_MAX_LENGTH],
            "is_active": account.is_active,
        }
    _, created = Profile.objects.get_or_create(pk=user_id, defaults=defaults)
    if created:
        logger.info("profile.started_from_account", extra={"user_id": str(user_id)})


def profile_email_update(*, user_id: UUID, email: str) -> None:
    """auth_service owns the email address: follow its changes (never on an erased profile)."""
    with transaction.atomic():
        profile = Profile.objects.select_for_update().filter(pk=user_id).first()
        if profile is None:
            # Registration has not been applied yet: fail, so the kit retries this message
            # later (and dead-letters it for replay if registration never comes).
            raise ProfileNotFound(f"No profile for user {user_id} yet.")
        if profile.is_erased or profile.email == email:
            return
        profile.email = email
        profile.save(update_fields=["email", "updated_at"])
    logger.info("profile.email_updated", extra={"user_id": str(user_id)})


def profile_deactivate(*, user_id: UUID) -> None:
    """The account was deactivated in auth_service: the profile disappears from the API."""
    updated = Profile.objects.filter(pk=user_id).update(is_active=False, updated_at=timezone.now())
    if not updated:
        # As above: retried until registration has been applied, so that it cannot come after
        # and bring back an active profile.
        raise ProfileNotFound(f"No profile for user {user_id} yet.")
    logger.info("profile.deactivated", extra={"user_id": str(user_id)})


def profile_erase(*, user_id: UUID) -> Profile:
    """Anonymise everything user_service holds of the user (``user.erased``).

    The row stays, inactive and empty, as a tombstone: ``user.registered`` leaves an existing
    profile alone, so a late registration cannot bring the data back. Avatar files are deleted
    before the transaction commits and a storage failure raises: the message is retried rather
    than the erasure half done. (A retry after the files are gone just finds nothing to delete.)
    """
    with transaction.atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(
            pk=user_id, defaults={"email": erased_email(user_id), "is_active": False}
        )
        _avatar_files_delete(user_id=user_id)
        profile.email = erased_email(user_id)
        profile.first_name = profile.last_name = profile.phone = ""
        profile.preferences = {}
        profile.avatar = ""
        profile.is_active = False
        profile.erased_at = profile.erased_at or timezone.now()
        profile.save()
        addresses, _ = Address.objects.filter(user_id=user_id).delete()
        # Dead letters are this service's copies of messages about the user (a registration
        # carries the email and names): keep the record that something failed, not the data.
        letters = DeadLetter.objects.filter(envelope__data__user_id=str(user_id))
        for letter in letters:
            letter.envelope = {**letter.envelope, "data": {"user_id": str(user_id)}}
            letter.save(update_fields=["envelope"])
    logger.info(
        "profile.erased",
        extra={"user_id": str(user_id), "addresses_deleted": addresses},
    )
    return profile


def _avatar_files_delete(*, user_id: UUID) -> None:
    """Every file under the user's avatar folder: the current avatar and any older one whose
    deletion after a replacement failed."""
    storage = _avatar_storage()
    folder = f"avatars/{user_id}"
    try:
        _, files = storage.listdir(folder)
    except FileNotFoundError:  # local disk: the user never had an avatar
        return
    for name in files:
        storage.delete(f"{folder}/{name}")


# -- the user's own edits -------------------------------------------------------------------------


def profile_update(*, user_id: UUID, changes: Mapping[str, Any]) -> Profile:
    """Apply validated changes of ``first_name``, ``last_name``, ``phone`` and ``preferences``.

    ``preferences`` is merged into the stored document one level deep (RFC 7396's merge-patch
    on the top level): a key set to ``null`` is removed, keys not sent are kept. So two clients
    (the shop and the app, say) never overwrite each other's settings.
    """
    with transaction.atomic():
        profile = _locked_profile(user_id)
        fields = []
        for name in ("first_name", "last_name", "phone"):
            if name in changes:
                setattr(profile, name, changes[name])
                fields.append(name)
        if "preferences" in changes:
            profile.preferences = _preferences_merge(profile.preferences, changes["preferences"])
            fields.append("preferences")
        if fields:
            profile.save(update_fields=[*fields, "updated_at"])
    return profile


def _preferences_merge(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**current, **patch}
    merged = {key: value for key, value in merged.items() if value is not None}
    if len(merged) > PREFERENCES_MAX_KEYS:
        raise InvalidInput(
            details={"preferences": [f"At most {PREFERENCES_MAX_KEYS} preferences can be kept."]}
        )
    if len(json.dumps(merged).encode()) > PREFERENCES_MAX_BYTES:
        raise InvalidInput(
            details={
                "preferences": [f"Preferences may take at most {PREFERENCES_MAX_BYTES} bytes."]
            }
        )
    return merged


# -- addresses ------------------------------------------------------------------------------------


def address_create(*, user_id: UUID, data: Mapping[str, Any]) -> Address:
    """Add an address. The user's first address is the default whatever was asked; asking for
    the default moves it from the old one in the same transaction."""
    with transaction.atomic():
        profile = _locked_profile(user_id)
        count = Address.objects.filter(user=profile).count()
        if count >= ADDRESS_LIMIT:
            raise AddressBookFull(details={"limit": ADDRESS_LIMIT})
        is_default = count == 0 or bool(data.get("is_default", False))
        if is_default:
            Address.objects.filter(user=profile, is_default=True).update(is_default=False)
        fields = {key: value for key, value in data.items() if key != "is_default"}
        address = Address.objects.create(user=profile, is_default=is_default, **fields)
    logger.info("address.created", extra={"user_id": str(user_id), "address_id": str(address.id)})
    return address


def address_update(*, user_id: UUID, address_id: UUID, data: Mapping[str, Any]) -> Address:
    """Change an address. ``is_default: true`` makes it the default (the old one is unset);
    ``is_default: false`` on the default is refused: the user has to pick another default,
    there is no moment without one."""
    with transaction.atomic():
        profile = _locked_profile(user_id)
        address = address_get(user_id=profile.pk, address_id=address_id)
        wants_default = data.get("is_default")
        if wants_default is False and address.is_default:
            raise InvalidInput(
                details={
                    "is_default": [
                        "The default address stays the default until another address is made "
                        "the default."
                    ]
                }
            )
        if wants_default and not address.is_default:
            Address.objects.filter(user=profile, is_default=True).update(is_default=False)
            address.is_default = True
        for key, value in data.items():
            if key != "is_default":
                setattr(address, key, value)
        address.save()
    return address


def address_delete(*, user_id: UUID, address_id: UUID) -> None:
    """Delete an address; when it was the default, the oldest remaining one becomes default."""
    with transaction.atomic():
        profile = _locked_profile(user_id)
        address = address_get(user_id=profile.pk, address_id=address_id)
        was_default = address.is_default
        address.delete()
        if was_default:
            address_default_ensure(user_id=profile.pk)
    logger.info("address.deleted", extra={"user_id": str(user_id), "address_id": str(address_id)})


def address_default_ensure(*, user_id: UUID) -> Address | None:
    """Make the oldest address the default when the user has addresses but no default (after a
    deletion, or an edit in the admin). Call inside a transaction holding the profile's lock."""
    addresses = Address.objects.filter(user_id=user_id)
    current = addresses.filter(is_default=True).first()
    if current is not None:
        return current
    oldest = addresses.order_by("created_at", "id").first()
    if oldest is not None:
        oldest.is_default = True
        oldest.save(update_fields=["is_default", "updated_at"])
    return oldest


# -- avatars --------------------------------------------------------------------------------------


def avatar_check(*, upload: Any) -> str:
    """The extension to store an uploaded avatar under, or an error: the size first (413), then
    the content (400), judged by Pillow and never by the name or the declared content type."""
    max_bytes = settings.AVATAR_MAX_BYTES
    if upload.size > max_bytes:
        raise AvatarTooLarge(
            f"The avatar is larger than {max_bytes} bytes.", details={"max_bytes": max_bytes}
        )
    max_side = settings.AVATAR_MAX_DIMENSION
    try:
        upload.seek(0)
        with warnings.catch_warnings():
            # Pillow only warns about a decompression bomb below twice its limit: refuse it too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' parsers ever see the bytes.
            with Image.open(upload, formats=AVATAR_PARSERS) as image:
                image_format, (width, height) = image.format, image.size
                image.verify()  # reads the whole file: checksums, truncation
    except Exception as exc:  # Pillow's parsers raise many kinds of error on bad input
        logger.info("avatar.refused", extra={"reason": type(exc).__name__})
        raise InvalidInput(details={"avatar": [AVATAR_TYPE_MESSAGE]}) from exc
    finally:
        upload.seek(0)
    if image_format not in AVATAR_FORMATS:
        raise InvalidInput(details={"avatar": [AVATAR_TYPE_MESSAGE]})
    if width > max_side or height > max_side:
        raise InvalidInput(
            details={"avatar": [f"The image may be at most {max_side}x{max_side} pixels."]}
        )
    return AVATAR_FORMATS[image_format]


def profile_avatar_set(*, user_id: UUID, upload: Any) -> Profile:
    """Check and store a new avatar; the replaced file is deleted once the change is committed.

    The file goes to storage before the row is locked (an upload to S3 must not hold a database
    lock); if the row cannot be updated after all, the new file is deleted again. Nothing is
    stored when the check fails.
    """
    profile_get_active(user_id=user_id)  # 404 before anything is checked or stored
    extension = avatar_check(upload=upload)
    storage = _avatar_storage()
    # A new name per upload: a cached URL of the old avatar never shows the new picture.
    name = storage.save(f"avatars/{user_id}/{uuid.uuid4().hex}.{extension}", upload)
    try:
        with transaction.atomic():
            profile = _locked_profile(user_id)
            old = profile.avatar.name
            profile.avatar.name = name
            profile.save(update_fields=["avatar", "updated_at"])
            if old and old != name:
                transaction.on_commit(lambda: _avatar_delete_quietly(storage, old))
    except BaseException:
        _avatar_delete_quietly(storage, name)
        raise
    logger.info("avatar.updated", extra={"user_id": str(user_id)})
    return profile


def profile_avatar_remove(*, user_id: UUID) -> Profile:
    """Remove the avatar; its file is deleted once the change is committed."""
    with transaction.atomic():
        profile = _locked_profile(user_id)
        old = profile.avatar.name
        if old:
            profile.avatar = ""
            profile.save(update_fields=["avatar", "updated_at"])
            storage = _avatar_storage()
            transaction.on_commit(lambda: _avatar_delete_quietly(storage, old))
    return profile


def _avatar_delete_quietly(storage: Storage, name: str) -> None:
    # After the commit the user's change has happened: a storage failure must not turn it into
    # an error. The file is left behind (erasure deletes the whole folder anyway) and logged.
    try:
        storage.delete(name)
    except Exception:  # any backend, any failure: logged with its traceback
        logger.exception("avatar.delete_failed", extra={"file": name})
