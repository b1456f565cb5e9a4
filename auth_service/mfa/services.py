"""The second factor: time-based one-time codes (RFC 6238) from django-otp's TOTP devices."""

from __future__ import annotations

import logging

from django.db import transaction
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

logger = logging.getLogger(__name__)

#: The name of the device ``totp_device`` makes (an admin may add others).
DEVICE_NAME = "authenticator"


def otp_verify(*, user, otp: str) -> bool:
    """Whether ``otp`` is a current code of one of the user's confirmed TOTP devices. A code
    is good once (the device remembers the last time step used) and failures slow the device
    down (django-otp's throttling)."""
    device = match_token(user, otp.strip())
    logger.info(
        "auth.otp_verified" if device else "auth.otp_refused", extra={"user_id": str(user.pk)}
    )
    return device is not None


def totp_device_for(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


@transaction.atomic
def totp_device_create(*, user, replace: bool = False) -> TOTPDevice:
    """A new confirmed TOTP device with a fresh key; ``replace`` drops the user's others."""
    if replace:
        TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    logger.info("auth.totp_device_created", extra={"user_id": str(user.pk), "device": device.pk})
    return device
