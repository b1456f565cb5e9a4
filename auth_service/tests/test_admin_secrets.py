from accounts.factories import StaffFactory
from django_otp.plugins.otp_totp.models import TOTPDevice
from keys.services import key_rotate

from service_kit.testing.secrets import admin_pages_test


def authenticator_enrolled() -> TOTPDevice:
    return TOTPDevice.objects.create(user=StaffFactory(), name="phone", confirmed=True)


test_no_admin_page_shows_a_secret = admin_pages_test(
    factories=["accounts.factories"],
    make={"keys.signingkey": key_rotate, "otp_totp.totpdevice": authenticator_enrolled},
)
