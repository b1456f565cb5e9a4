import time

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from service_kit.api import AutoSchema
from service_kit.auth import HasRole, HasScope, IsUser
from service_kit.ops import client_address

from . import selectors, services, staff_sessions
from .models import User
from .serializers import (
    AccountEraseSerializer,
    AccountSerializer,
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

#: Staff roles that may read any account by id, and the scope a service token needs for the same
#: (user_service, making a profile whose ``user.registered`` has not arrived yet).
ACCOUNT_READ_ROLES = ("support", "admin")
ACCOUNT_READ_SCOPE = "accounts:read"

#: The examples of the API reference (docs/api.md#the-api-reference).
_SIGN_IN = {"email": "ada@example.com", "password": "<the password>"}
_PAIR = {"access": "<access token (a JWT)>", "refresh": "<refresh token (a JWT)>"}
SIGN_IN_EXAMPLES = [
    OpenApiExample("Sign in", request_only=True, value=_SIGN_IN),
    OpenApiExample("A token pair", response_only=True, status_codes=["200"], value=_PAIR),
]
REGISTER_EXAMPLES = [
    OpenApiExample(
        "A new customer",
        request_only=True,
        value={**_SIGN_IN, "first_name": "Ada", "last_name": "Lovelace"},
    ),
    OpenApiExample(
        "Registered",
        response_only=True,
        status_codes=["201"],
        value={"id": "0c9a4b7e-1d2f-4e3a-8b5c-6d7e8f9a0b1c", "email": "ada@example.com"},
    ),
]


class PublicApi(APIView):
    """No bearer token is read here (a client refreshing may still send its expired one), yet a
    refusal is a 401 with its challenge, like every other authentication failure."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenObtainApi(PublicApi):
    @extend_schema(
        summary="Sign in",
        request=TokenObtainSerializer,
        examples=SIGN_IN_EXAMPLES,
        responses=TokenPairSerializer,
    )
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
    @extend_schema(
        summary="Refresh the tokens", request=RefreshSerializer, responses=TokenPairSerializer
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.token_refresh(**serializer.validated_data))


class LogoutApi(APIView):
    """``{refresh}`` with the access token: both stop working everywhere."""

    # A person's session: a service identity has none to end (nor anyone else's to end).
    permission_classes = [IsUser]

    @extend_schema(summary="Sign out", request=RefreshSerializer, responses={204: None})
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(**serializer.validated_data, access_claims=request.auth)
        return Response(status=204)


class RegisterApi(PublicApi):
    """A new customer account (sign in afterwards with ``token/``)."""

    @extend_schema(
        summary="Register",
        request=RegisterSerializer,
        examples=REGISTER_EXAMPLES,
        responses={201: RegisteredSerializer},
    )
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

    @extend_schema(summary="Get my account", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(selectors.user_get(user_id=request.user.id)).data)

    @extend_schema(
        summary="Erase my account", request=AccountEraseSerializer, responses={204: None}
    )
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

    @extend_schema(
        summary="Change my password", request=PasswordChangeSerializer, responses={204: None}
    )
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
        summary="Ask for a password reset",
        request=PasswordResetSerializer,
        responses={202: PasswordResetAcceptedSerializer},
    )
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(**serializer.validated_data)
        return Response({"detail": self.ACCEPTED}, status=202)


class PasswordResetConfirmApi(PublicApi):
    @extend_schema(
        summary="Set a new password with a reset token",
        request=PasswordResetConfirmSerializer,
        responses={204: None},
    )
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=204)


class ServiceTokenApi(PublicApi):
    """A service identity's short-lived access token (``client_id`` and ``scopes`` claims)."""

    @extend_schema(
        summary="Get a service token",
        request=ServiceTokenSerializer,
        responses=ServiceTokenIssuedSerializer,
    )
    def post(self, request):
        serializer = ServiceTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.service_token_issue(**serializer.validated_data)
        response = Response(token)
        response["Cache-Control"] = "no-store"
        return response


class AccountDetailApi(APIView):
    """Any account by id, deactivated and erased ones included: for support staff and for
    services with ``accounts:read``. Never a customer's (their own is ``me/``)."""

    permission_classes = [HasRole(*ACCOUNT_READ_ROLES) | HasScope(ACCOUNT_READ_SCOPE)]

    @extend_schema(summary="Get an account", responses=AccountSerializer)
    def get(self, request, user_id):
        return Response(AccountSerializer(selectors.account_get(user_id=user_id)).data)


# -- staff sessions: single sign-on across the admins (the services' network only) -------------


class StaffSessionSerializer(serializers.Serializer):
    session = serializers.UUIDField()


class StaffTicketSerializer(StaffSessionSerializer):
    audience = serializers.ChoiceField(choices=staff_sessions.TICKET_AUDIENCES)


@extend_schema(exclude=True)
class StaffSessionOpenApi(APIView):
    """An admin's sign-in, with the access token it was just given: the person's staff session
    in every admin. Fresh tokens only, so a stolen one cannot be turned into a session."""

    permission_classes = [IsUser]
    FRESH_FOR = 30

    def post(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        if time.time() - float(request.auth["iat"]) > self.FRESH_FOR:
            raise PermissionDenied("Sign in again: this token is not fresh.", code="stale_token")
        user = User.objects.filter(pk=request.user.id, is_active=True).first()
        if user is None:
            raise NotFound("No active account of this token.")
        session = staff_sessions.staff_session_open(user=user, amr=request.auth.get("amr") or [])
        return Response({"session": str(session.pk)}, status=201)


@extend_schema(exclude=True)
class StaffTicketApi(PublicApi):
    """A single-use ticket for one admin, for whoever holds the session's id (the front page)."""

    def post(self, request):
        serializer = StaffTicketSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = staff_sessions.staff_ticket(
            session_id=str(serializer.validated_data["session"]),
            audience=serializer.validated_data["audience"],
        )
        if ticket is None:
            raise NotFound("This staff session has ended.")
        return Response({"ticket": ticket})


@extend_schema(exclude=True)
class StaffSessionEndApi(PublicApi):
    """Signed out in one admin: signed out everywhere."""

    def post(self, request):
        serializer = StaffSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        staff_sessions.staff_session_end(session_id=str(serializer.validated_data["session"]))
        return Response(status=204)
