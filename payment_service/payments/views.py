"""The payments API (docs/api.md#resources, payments): views parse input, call one service or
selector, shape output.

- ``POST /payments/`` is order_service's: a service token with the ``payments:charge`` scope (a
  person's token, customer or staff, gets 403). ``Idempotency-Key`` is required. 201 when this
  request recorded the payment, 200 when the order's payment existed (its current state).
- ``GET /payments/`` and ``GET /payments/{id}/``: a customer's own; support, payment_manager and
  admin see all. The list also answers a service token with the ``payments:read`` scope (every
  payment: order_service's reconciliation), filtered by ``status``, ``order_id`` or a batch of
  ``order_ids`` (comma-separated, at most 100).
- ``POST /payments/{id}/refunds/``: ``payment_manager`` (and ``admin``); honours
  ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.api import UUIDListField
from service_kit.auth import HasRole, HasScope, IsUser
from service_kit.idempotency import HEADER, caller_of, idempotent

from . import selectors, services
from .errors import ProviderDidNotAnswer
from .models import PaymentStatus, Refund
from .serializers import (
    ChargeRequestSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    RefundSerializer,
)

CHARGE_SCOPE = "payments:charge"
READ_SCOPE = selectors.READ_SCOPE
#: At most this many ids in ``?order_ids=`` (one page of the batch read).
ORDER_IDS_MAX = 100
REFUND_ROLES = ("payment_manager",)  # admin is implied


def _idempotency_header(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=required,
        description="1 to 255 printable characters: a retry with the same key and body replays.",
    )


def actor_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.user.id))
    except ValueError:
        return None


def refund_request_key(request: Request) -> str | None:
    """The refund request's own name: its caller's Idempotency-Key (None without one)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    return hashlib.sha256(f"{caller_of(request)}\n{key}".encode()).hexdigest()[:40]


class _ListFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)
    order_id = serializers.UUIDField(required=False)
    order_ids = UUIDListField(required=False, max_items=ORDER_IDS_MAX)


class PaymentListApi(generics.ListAPIView):
    serializer_class = PaymentSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [HasScope(CHARGE_SCOPE)()]
        return [(IsUser | HasScope(READ_SCOPE))()]

    def get_queryset(self):
        filters = _ListFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.payment_list(user=self.request.user, **filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=PaymentStatus.values),
            OpenApiParameter("order_id", OpenApiTypes.UUID),
            OpenApiParameter(
                "order_ids",
                OpenApiTypes.STR,
                description=f"Comma-separated order ids, at most {ORDER_IDS_MAX}.",
            ),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ChargeRequestSerializer,
        parameters=[_idempotency_header(required=True)],
        responses={
            201: PaymentSerializer,
            200: OpenApiResponse(PaymentSerializer, description="The order's payment existed."),
            409: OpenApiResponse(description="Another amount or currency is recorded."),
            503: OpenApiResponse(description="The provider is unavailable; retry."),
            504: OpenApiResponse(description="The provider did not answer; retry later."),
        },
    )
    def post(self, request: Request) -> Response:
        if request.headers.get(HEADER) is None:
            raise ValidationError({HEADER: ["This header is required."]})
        return self._charge(request)

    @idempotent
    def _charge(self, request: Request) -> Response:
        serializer = ChargeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment, created = services.payment_charge(
            order_id=data["order_id"],
            customer_id=data["customer_id"],
            amount=data["amount"],
            currency=data["currency"],
            payment_token=data["payment_token"],
        )
        if payment.status == PaymentStatus.PENDING:
            # Recorded, outcome unknown: a 5xx releases the key so the caller may retry it.
            raise ProviderDidNotAnswer(details={"payment_id": str(payment.pk)})
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": f"{request.path}{payment.pk}/"},
        )


#: The example of the API reference (docs/api.md#the-api-reference).
PAYMENT_EXAMPLE = OpenApiExample(
    "A card payment that succeeded",
    response_only=True,
    status_codes=["200"],
    value={
        "id": "6e0c2f4a-8b1d-4c3e-9f5a-0b7d2e4c6a81",
        "order_id": "3f2b8c1e-5a4d-4e7b-9c61-2d8f0a7b6c15",
        "amount": "25.00",
        "currency": "EUR",
        "status": "SUCCEEDED",
        "failure_code": "",
        "refunded_amount": "0.00",
        "created_at": "2026-12-07T08:00:01Z",
    },
)


@extend_schema_view(get=extend_schema(examples=[PAYMENT_EXAMPLE]))
class PaymentDetailApi(generics.RetrieveAPIView):
    permission_classes = [IsUser]
    serializer_class = PaymentSerializer

    def get_object(self):
        return selectors.payment_get(user=self.request.user, payment_id=self.kwargs["payment_id"])


class RefundCreateApi(generics.GenericAPIView):
    permission_classes = [HasRole(*REFUND_ROLES)]
    serializer_class = RefundSerializer

    @extend_schema(
        request=RefundRequestSerializer,
        parameters=[_idempotency_header(required=False)],
        responses={
            201: RefundSerializer,
            409: OpenApiResponse(description="Nothing captured, or more than is left."),
        },
    )
    @idempotent
    def post(self, request: Request, payment_id: uuid.UUID) -> Response:
        selectors.payment_get(user=request.user, payment_id=payment_id)  # 404 first
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund: Refund = services.refund_create(
            payment_id=payment_id,
            **serializer.validated_data,
            source=Refund.Source.API,
            actor_id=actor_id(request),
            actor_email=getattr(request.user, "email", None) or "",  # a TokenUser's
            request_key=refund_request_key(request),
        )
        refund.payment.refresh_from_db()
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)
