from accounts.factories import StaffFactory, UserFactory
from accounts.tokens import token_pair
from django_otp.plugins.otp_totp.models import TOTPDevice
from keys.services import key_rotate
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from service_kit.testing.secrets import admin_pages_test


def refresh_token_issued() -> OutstandingToken:
    user = UserFactory()
    token_pair(user)
    return OutstandingToken.objects.get(user=user)


def refresh_token_revoked() -> BlacklistedToken:
    return BlacklistedToken.objects.create(token=refresh_token_issued())


def authenticator_enrolled() -> TOTPDevice:
    return TOTPDevice.objects.create(user=StaffFactory(), name="phone", confirmed=True)


test_no_admin_page_shows_a_secret = admin_pages_test(
    factories=["accounts.factories"],
    make={
        "keys.signingkey": key_rotate,
        "otp_totp.totpdevice": authenticator_enrolled,
        "token_blacklist.outstandingtoken": refresh_token_issued,
        "token_blacklist.blacklistedtoken": refresh_token_revoked,
    },
)
