"""The inventory API (docs/api.md#resources, inventory): views parse input, call one service or
selector, shape output.

- ``GET {sku}/`` is public, like the catalogue it sits beside: the shop shows what is available.
- ``GET /`` (the list) and ``GET {sku}/adjustments/`` are for staff: ``inventory_manager``,
  ``support`` (read-only staff) and ``admin``.
- ``POST {sku}/adjustments/`` is for ``inventory_manager`` and ``admin``; it honours
  ``Idempotency-Key`` (a retried restock must not restock twice).
- ``GET reservations/`` (``?order_ids=`` up to 100, comma-separated, and/or ``?state=``) is for a
  service token with the ``inventory:read`` scope (order_service's reconciliation) and for the
  staff who read stock. Its route comes before ``{sku}/``, so a SKU named ``reservations`` cannot
  be read by ``GET {sku}/`` (its adjustments still can).
"""

from __future__ import annotations

import uuid

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.api import UUIDListField
from service_kit.auth import HasRole, HasScope
from service_kit.idempotency import idempotent

from . import selectors, services
from .filters import StockItemFilter
from .models import Reservation
from .serializers import (
    AdjustmentCreateSerializer,
    AdjustmentSerializer,
    ReservationSerializer,
    StockItemSerializer,
)

STOCK_READ_ROLES = ("inventory_manager", "support", "admin")
STOCK_WRITE_ROLES = ("inventory_manager", "admin")
#: The scope of a service identity that reads reservations (order_service's reconciliation).
READ_SCOPE = "inventory:read"
#: At most this many ids in ``?order_ids=`` (one page of the batch read).
ORDER_IDS_MAX = 100


def actor_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.user.id))
    except ValueError:
        return None


class StockItemListApi(generics.ListAPIView):
    permission_classes = [HasRole(*STOCK_READ_ROLES)]
    serializer_class = StockItemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = StockItemFilter

    def get_queryset(self):
        return selectors.stock_item_list()


class _ReservationFilters(serializers.Serializer):
    order_ids = UUIDListField(required=False, max_items=ORDER_IDS_MAX)
    state = serializers.ChoiceField(choices=Reservation.State.choices, required=False)


class ReservationListApi(generics.ListAPIView):
    permission_classes = [HasScope(READ_SCOPE) | HasRole(*STOCK_READ_ROLES)]
    serializer_class = ReservationSerializer

    def get_queryset(self):
        filters = _ReservationFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.reservation_list(**filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "order_ids",
                OpenApiTypes.STR,
                description=f"Comma-separated order ids, at most {ORDER_IDS_MAX}.",
            ),
            OpenApiParameter("state", OpenApiTypes.STR, enum=Reservation.State.values),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class StockItemDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = StockItemSerializer

    def get_object(self):
        return services.stock_item_get(sku=self.kwargs["sku"])


class AdjustmentListApi(generics.ListAPIView):
    serializer_class = AdjustmentSerializer

    def get_permissions(self):
        roles = STOCK_WRITE_ROLES if self.request.method == "POST" else STOCK_READ_ROLES
        return [HasRole(*roles)()]

    def get_queryset(self):
        services.stock_item_get(sku=self.kwargs["sku"])  # 404 for a SKU no product has
        return selectors.adjustment_list(sku=self.kwargs["sku"])

    @extend_schema(
        request=AdjustmentCreateSerializer,
        responses={
            201: AdjustmentSerializer,
            409: OpenApiResponse(description="On hand would go below what is reserved."),
        },
    )
    @idempotent
    def post(self, request: Request, sku: str) -> Response:
        services.stock_item_get(sku=sku)  # not found comes before validation errors
        serializer = AdjustmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        adjustment = services.stock_adjust(
            sku=sku,
            **serializer.validated_data,
            actor_id=actor_id(request),
            actor_email=getattr(request.user, "email", None) or "",  # a TokenUser's
        )
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)
