from django_otp.plugins.otp_totp.models import TOTPDevice
from keys.services import key_rotate

from platform_tools.testing.secrets import admin_pages_test

from .factories import StaffFactory


def authenticator_enrolled() -> TOTPDevice:
    return TOTPDevice.objects.create(user=StaffFactory(), name="phone", confirmed=True)


test_no_admin_page_shows_a_secret = admin_pages_test(
    factories=["tests.factories"],
    make={"keys.signingkey": key_rotate, "otp_totp.totpdevice": authenticator_enrolled},
)
