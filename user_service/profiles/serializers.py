"""Input parsing and output shapes of the users API; the rules themselves live in services."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from .countries import COUNTRY_CODES
from .models import Address, Profile

#: What a person may type around the digits of a phone number.
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()/]")
#: E.164: a plus, a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class PhoneField(serializers.CharField):
    """A phone number in international format, stored as E.164 (``+49 30 1234-567`` is kept as
    ``+49301234567``); blank clears it."""

    default_error_messages = {
        "phone": "Enter the number in international format, starting with + and the country code.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return ""
        number = _PHONE_PUNCTUATION.sub("", value)
        if not _E164.match(number):
            self.fail("phone")
        return number


class StrictSerializerMixin(serializers.Serializer):
    """Refuse fields the resource does not have, instead of silently ignoring a typo.

    Read-only fields may be sent (a client may send back what it read) and are ignored, except
    those named in ``refused_fields``, which the client clearly means to change and cannot.
    """

    refused_fields: Mapping[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {
                name: [self.refused_fields.get(name, "This field is not recognised.")]
                for name in sorted(data)
                if name not in self.fields or name in self.refused_fields
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class ProfileSerializer(serializers.ModelSerializer):
    """The user's own profile: ``GET|PATCH /api/v1/users/me/``."""

    id = serializers.UUIDField(source="user_id", read_only=True)
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["id", "email", "first_name", "last_name", "phone", "preferences", "avatar_url"]
        read_only_fields = fields

    def get_avatar_url(self, profile: Profile) -> str | None:
        if not profile.avatar:
            return None
        url = profile.avatar.url
        request = self.context.get("request")
        # Local storage gives a path; clients need somewhere to go.
        if url.startswith("/") and request is not None:
            url = request.build_absolute_uri(url)
        return url


class ProfileUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    """What ``PATCH me/`` may change."""

    refused_fields = {
        "email": "The email address belongs to the account in auth_service; it cannot be "
        "changed here.",
    }

    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    avatar_url = serializers.CharField(read_only=True)
    first_name = serializers.CharField(max_length=150, allow_blank=True)
    last_name = serializers.CharField(max_length=150, allow_blank=True)
    phone = PhoneField()
    preferences = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text="Merged into the stored preferences; a key set to null is removed.",
    )

    def validate_preferences(self, value: dict[str, Any]) -> dict[str, Any]:
        too_long = sorted(key for key in value if not key or len(key) > 64)
        if too_long:
            raise serializers.ValidationError("Preference names have 1 to 64 characters.")
        return value


class AddressSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """An address of the user's address book: ``/api/v1/users/me/addresses/``."""

    phone = PhoneField(required=False)

    class Meta:
        model = Address
        fields = [
            "id",
            "name",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
            "is_default",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {"is_default": {"required": False}}

    def validate_country(self, value: str) -> str:
        if value not in COUNTRY_CODES:
            raise serializers.ValidationError(
                "Enter an ISO 3166-1 alpha-2 country code in capitals, like DE or US."
            )
        return value


class UserDetailSerializer(ProfileSerializer):
    """A profile as staff and services see it: ``GET /api/v1/users/{user_id}/``."""

    addresses = AddressSerializer(many=True, read_only=True)

    class Meta(ProfileSerializer.Meta):
        fields = [
            *ProfileSerializer.Meta.fields,
            "is_active",
            "erased_at",
            "addresses",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AvatarUploadSerializer(serializers.Serializer):
    """``PUT me/avatar/`` (multipart): the image itself; its checks are the service's."""

    avatar = serializers.FileField(allow_empty_file=False)
