from rest_framework import serializers

from .tokens import roles_of


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, max_length=256)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=16,
        help_text="A current code of the account's authenticator app (TOTP): the tokens then "
        'carry amr ["pwd", "otp"]. A wrong code is refused like a wrong password.',
    )


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


def _password(**kwargs) -> serializers.CharField:
    # Bounded: a megabyte "password" would cost a megabyte of hashing.
    return serializers.CharField(trim_whitespace=False, max_length=256, **kwargs)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = _password()
    first_name = serializers.CharField(max_length=150, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, allow_blank=True, default="")


class RegisteredSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    def get_roles(self, user) -> list[str]:
        return roles_of(user)


class AccountSerializer(serializers.Serializer):
    """An account as another service reads it: what ``user.registered`` carries, and its state
    (an erased account's personal fields are already scrubbed)."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_active = serializers.BooleanField()
    erased_at = serializers.DateTimeField(allow_null=True)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = _password()
    new_password = _password()


class AccountEraseSerializer(serializers.Serializer):
    password = _password(help_text="The account's password, asked again: a token is not enough.")


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)
    new_password = _password()


class ServiceTokenSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=64)
    client_secret = serializers.CharField(max_length=256, trim_whitespace=False)


class ServiceTokenIssuedSerializer(serializers.Serializer):
    access = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="seconds")
