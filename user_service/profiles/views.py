"""The users API (docs/api.md#resources, users): views parse input, call one service or
selector, shape output.

Everything under ``me/`` is the caller's own and needs a person's token (a service identity has
no "me": 403). The caller's profile exists from their first request: made from the token's claims
if ``user.registered`` has not arrived yet (the event merges into it later). A deactivated or
erased profile gets 404 ``not_found`` on all of it: to the API such a profile does not exist.
"""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.auth import HasRole, HasScope, IsUser

from . import selectors, services
from .errors import ProfileNotFound
from .permissions import IsStaff
from .serializers import (
    AddressSerializer,
    AvatarUploadSerializer,
    ProfileSerializer,
    ProfileUpdateSerializer,
    UserDetailSerializer,
)

#: Staff roles that may read any profile (``support`` is read-only staff), and the scope a
#: service token needs for the same.
PROFILE_READ_ROLES = ("support", "admin")
PROFILE_READ_SCOPE = "users:read"


def caller_id(request: Request) -> UUID:
    """The caller's user id from the token (auth_service's user ids are UUIDs), their profile
    made from the token's claims if ``user.registered`` has not arrived yet (once a request)."""
    try:
        user_id = UUID(str(request.user.id))
    except ValueError:
        raise ProfileNotFound() from None
    if getattr(request, "_profile_started", None) != user_id:
        services.profile_from_claims(user_id=user_id, email=getattr(request.user, "email", ""))
        request._profile_started = user_id  # type: ignore[attr-defined]
    return user_id


class MeApi(generics.GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = ProfileSerializer

    def get(self, request: Request) -> Response:
        profile = selectors.profile_get_active(user_id=caller_id(request))
        return Response(self.get_serializer(profile).data)

    @extend_schema(request=ProfileUpdateSerializer, responses=ProfileSerializer)
    def patch(self, request: Request) -> Response:
        user_id = caller_id(request)
        selectors.profile_get_active(user_id=user_id)  # 404 comes before validation errors
        serializer = ProfileUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = services.profile_update(user_id=user_id, changes=serializer.validated_data)
        return Response(self.get_serializer(profile).data)


class AddressListApi(mixins.ListModelMixin, generics.GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = AddressSerializer

    def get_queryset(self):
        return selectors.address_list(user_id=caller_id(self.request))

    def get(self, request: Request) -> Response:
        selectors.profile_get_active(user_id=caller_id(request))
        return self.list(request)  # paginated

    def post(self, request: Request) -> Response:
        user_id = caller_id(request)
        selectors.profile_get_active(user_id=user_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        address = services.address_create(user_id=user_id, data=serializer.validated_data)
        location = request.build_absolute_uri(f"{request.path}{address.id}/")
        return Response(
            self.get_serializer(address).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class AddressDetailApi(generics.GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = AddressSerializer

    def get_object(self):
        """The caller's own address (DRF's ``OPTIONS`` asks for it too, to describe ``PUT``)."""
        user_id = caller_id(self.request)
        selectors.profile_get_active(user_id=user_id)
        return selectors.address_get(user_id=user_id, address_id=self.kwargs["address_id"])

    def get(self, request: Request, address_id: UUID) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def put(self, request: Request, address_id: UUID) -> Response:
        return self._update(request, address_id, partial=False)

    def patch(self, request: Request, address_id: UUID) -> Response:
        return self._update(request, address_id, partial=True)

    def delete(self, request: Request, address_id: UUID) -> Response:
        services.address_delete(user_id=caller_id(request), address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, address_id: UUID, *, partial: bool) -> Response:
        user_id = caller_id(request)
        # Not found comes before validation errors: nobody learns anything about another
        # user's address by sending it a bad body.
        self.get_object()
        serializer = self.get_serializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        address = services.address_update(
            user_id=user_id, address_id=address_id, data=serializer.validated_data
        )
        return Response(self.get_serializer(address).data)


class AvatarApi(generics.GenericAPIView):
    permission_classes = [IsUser]
    # Uploads only: the kit's body middleware lets multipart through to here.
    parser_classes = [MultiPartParser]
    serializer_class = AvatarUploadSerializer

    def get_object(self):
        """The caller's profile (DRF's ``OPTIONS`` asks for it, to describe ``PUT``)."""
        return selectors.profile_get_active(user_id=caller_id(self.request))

    @extend_schema(request=AvatarUploadSerializer, responses=ProfileSerializer)
    def put(self, request: Request) -> Response:
        user_id = caller_id(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.profile_avatar_set(
            user_id=user_id, upload=serializer.validated_data["avatar"]
        )
        return Response(ProfileSerializer(profile, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.profile_avatar_remove(user_id=caller_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserDetailApi(generics.GenericAPIView):
    """Any profile, inactive and erased ones included: for support staff and for services. A
    user whose ``user.registered`` has not arrived yet is read from auth_service first (their
    profile made from the account; an unknown user is 404, auth_service down 503)."""

    permission_classes = [
        (IsStaff & HasRole(*PROFILE_READ_ROLES)) | HasScope(PROFILE_READ_SCOPE),
    ]
    serializer_class = UserDetailSerializer

    def get(self, request: Request, user_id: UUID) -> Response:
        services.profile_from_account(user_id=user_id)
        profile = selectors.profile_get(user_id=user_id)
        return Response(self.get_serializer(profile).data)
