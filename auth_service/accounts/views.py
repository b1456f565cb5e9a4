from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from service_kit.auth.permissions import IsUser
from service_kit.ops.forwarded import client_address

from . import selectors, services
from .serializers import (
    AccountEraseSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    PasswordResetAcceptedSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    ServiceTokenIssuedSerializer,
    ServiceTokenSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
)


class PublicApi(APIView):
    """No bearer token is read here (a client refreshing may still send its expired one), yet a
    refusal is a 401 with its challenge, like every other authentication failure."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenObtainApi(PublicApi):
    @extend_schema(request=TokenObtainSerializer, responses=TokenPairSerializer)
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.token_obtain(
            **serializer.validated_data,
            address=client_address(request.META),
            request=request._request,
        )
        return Response(pair)


class TokenRefreshApi(PublicApi):
    @extend_schema(request=RefreshSerializer, responses=TokenPairSerializer)
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.token_refresh(**serializer.validated_data))


class LogoutApi(APIView):
    """``{refresh}`` with the access token: both stop working everywhere."""

    # A person's session: a service identity has none to end (nor anyone else's to end).
    permission_classes = [IsUser]

    @extend_schema(request=RefreshSerializer, responses={204: None})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(**serializer.validated_data, access_claims=request.auth)
        return Response(status=204)


class RegisterApi(PublicApi):
    """A new customer account (sign in afterwards with ``token/``)."""

    @extend_schema(request=RegisterSerializer, responses={201: RegisteredSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(RegisteredSerializer(user).data, status=201)


class BodyOnDeleteSchema(AutoSchema):
    """drf-spectacular documents request bodies of PUT, PATCH and POST only; OpenAPI 3.1 allows
    one on DELETE, and erasure takes the password in it."""

    def _get_request_body(self, direction="request"):
        method, self.method = self.method, "POST" if self.method == "DELETE" else self.method
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = method


class MeApi(APIView):
    """The caller's own account: read it, or erase it."""

    permission_classes = [IsUser]
    schema = BodyOnDeleteSchema()

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(selectors.user_get(user_id=request.user.id)).data)

    @extend_schema(request=AccountEraseSerializer, responses={204: None})
    def delete(self, request):
        """Erase the account: ``{password}`` asked again (a wrong one is a 400 on ``password``
        and counts against the sign-in lockout, like a failed sign-in)."""
        serializer = AccountEraseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_erase(
            user=selectors.user_get(user_id=request.user.id),
            **serializer.validated_data,
            address=client_address(request.META),
        )
        return Response(status=204)


class PasswordChangeApi(APIView):
    """Every session ends, this one included: the caller signs in again with the new password."""

    permission_classes = [IsUser]

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_change(
            user=selectors.user_get(user_id=request.user.id),
            **serializer.validated_data,
            address=client_address(request.META),
        )
        return Response(status=204)


class PasswordResetApi(PublicApi):
    """Always 202 with the same body: the answer does not tell which addresses have accounts."""

    ACCEPTED = "If an account uses this email address, a password reset token is on its way."

    @extend_schema(
        request=PasswordResetSerializer, responses={202: PasswordResetAcceptedSerializer}
    )
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(**serializer.validated_data)
        return Response({"detail": self.ACCEPTED}, status=202)


class PasswordResetConfirmApi(PublicApi):
    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=204)


class ServiceTokenApi(PublicApi):
    """A service identity's short-lived access token (``client_id`` and ``scopes`` claims)."""

    @extend_schema(request=ServiceTokenSerializer, responses=ServiceTokenIssuedSerializer)
    def post(self, request):
        serializer = ServiceTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.service_token_issue(**serializer.validated_data)
        response = Response(token)
        response["Cache-Control"] = "no-store"
        return response
