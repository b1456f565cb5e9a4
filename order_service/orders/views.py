"""The orders API (docs/api.md#resources, orders): views parse input, call one service or
selector, shape output.

- ``POST /`` places an order for the caller (a person's token); honours ``Idempotency-Key``.
- ``GET /`` lists the caller's own orders; ``support``, ``order_manager`` and ``admin`` see all
  (filter ``status``). ``GET {id}/``: another customer's order is 404.
- ``POST {id}/cancel/``: the customer before confirmation; ``order_manager`` (and ``admin``)
  also after it, which refunds the payment (→ REFUNDED when payment_service confirms).
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.auth import IsUser, TokenUser
from service_kit.idempotency import idempotent

from . import selectors, services
from .models import OrderStatus
from .serializers import OrderCancelSerializer, OrderCreateSerializer, OrderSerializer

#: Staff who cancel or refund orders (``admin`` has every role).
ORDER_WRITE_ROLES = ("order_manager",)


def caller_of(request: Request) -> TokenUser:
    """The caller, as its token says (JWTAuthentication is the only scheme; IsUser let it in)."""
    user = request.user
    if not isinstance(user, TokenUser):
        raise NotAuthenticated()
    return user


def actor_of(request: Request) -> str:
    user = caller_of(request)
    if user.has_role(*ORDER_WRITE_ROLES, "support"):
        return f"staff:{user.email or user.id}"
    return f"customer:{user.id}"


#: The examples of the API reference (docs/api.md#the-api-reference).
_ORDER_ID = "3f2b8c1e-5a4d-4e7b-9c61-2d8f0a7b6c15"
_PRODUCT_ID = "9b1d7e2a-3c4f-4a5b-8e6d-7f0a1b2c3d4e"
_ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "line2": "",
    "city": "Berlin",
    "region": "",
    "postal_code": "10115",
    "country": "DE",
}
ORDER_EXAMPLES = [
    OpenApiExample(
        "Two mugs, paid by card",
        request_only=True,
        value={
            "lines": [{"product_id": _PRODUCT_ID, "quantity": 2}],
            "shipping_address": _ADDRESS,
            "payment_token": "<the card token the payment provider gave>",
        },
    ),
    OpenApiExample(
        "Placed: the saga reserves the stock and charges the card",
        response_only=True,
        status_codes=["201"],
        value={
            "id": _ORDER_ID,
            "status": "PENDING",
            "lines": [
                {
                    "product_id": _PRODUCT_ID,
                    "sku": "MUG-1",
                    "name": "Blue mug",
                    "unit_price": "12.50",
                    "quantity": 2,
                    "line_total": "25.00",
                }
            ],
            "total": "25.00",
            "currency": "EUR",
            "shipping_address": _ADDRESS,
            "history": [
                {
                    "status": "PENDING",
                    "at": "2026-12-07T08:00:00Z",
                    "reason": "",
                    "actor": "customer",
                }
            ],
            "created_at": "2026-12-07T08:00:00Z",
            "updated_at": "2026-12-07T08:00:00Z",
        },
    ),
]


class OrderListApi(generics.ListCreateAPIView):
    permission_classes = [IsUser]
    serializer_class = OrderSerializer

    def get_queryset(self):
        wanted = self.request.query_params.get("status") or None
        if wanted is not None and wanted not in OrderStatus.values:
            raise ValidationError({"status": [f"Choose one of {', '.join(OrderStatus.values)}."]})
        return selectors.order_list(user=self.request.user, status=wanted)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=OrderStatus.values, required=False)
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=OrderCreateSerializer,
        examples=ORDER_EXAMPLES,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False
            )
        ],
        responses={
            201: OrderSerializer,
            503: OpenApiResponse(description="product_service did not answer: nothing written."),
        },
    )
    @idempotent
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = caller_of(request)
        order = services.order_place(
            customer_id=str(user.id),  # a person's token: its id is set
            customer_email=user.email or "",
            lines=data["lines"],
            shipping_address=data["shipping_address"],
            payment_token=data["payment_token"],
            actor=actor_of(request),
        )
        # The order as just stored, its lines and history in hand (not read again).
        return Response(
            OrderSerializer(order).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("order-detail", args=[order.pk])},
        )


class OrderDetailApi(generics.RetrieveAPIView):
    permission_classes = [IsUser]
    serializer_class = OrderSerializer

    def get_object(self):
        return selectors.order_get(user=self.request.user, order_id=self.kwargs["order_id"])


class OrderCancelApi(generics.GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = OrderSerializer

    @extend_schema(
        request=OrderCancelSerializer,
        responses={
            200: OrderSerializer,
            409: OpenApiResponse(description="The order's status does not allow it."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        user = caller_of(request)
        order = selectors.order_get(user=user, order_id=order_id)  # 404 before anything else
        staff = user.has_role(*ORDER_WRITE_ROLES)
        if str(order.customer_id) != str(user.id) and not staff:
            raise PermissionDenied("Only order managers cancel other people's orders.")
        serializer = OrderCancelSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        services.order_cancel(
            order_id=order.pk,
            actor=actor_of(request),
            staff=staff,
            reason=serializer.validated_data["reason"],
        )
        order = selectors.order_get(user=user, order_id=order.pk)
        return Response(OrderSerializer(order).data)
