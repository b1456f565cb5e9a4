from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .serializers import RefreshSerializer, TokenObtainSerializer


class PublicApi(APIView):
    """No bearer token is read here (a client refreshing may still send its expired one), yet a
    refusal is a 401 with its challenge, like every other authentication failure."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenObtainApi(PublicApi):
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.token_obtain(
            **serializer.validated_data,
            address=request.META.get("REMOTE_ADDR", ""),
            request=request._request,
        )
        return Response(pair)


class TokenRefreshApi(PublicApi):
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.token_refresh(**serializer.validated_data))


class LogoutApi(APIView):
    """``{refresh}`` with the access token: both stop working everywhere."""

    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(**serializer.validated_data, access_claims=request.auth)
        return Response(status=204)
