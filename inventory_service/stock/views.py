"""The inventory API (API.md, "inventory"): views parse input, call one service or selector,
shape output.

- ``GET {sku}/`` is public, like the catalogue it sits beside: the shop shows what is available.
- ``GET /`` (the list) and ``GET {sku}/adjustments/`` are for staff: ``inventory_manager``,
  ``support`` (read-only staff) and ``admin``.
- ``POST {sku}/adjustments/`` is for ``inventory_manager`` and ``admin``; it honours
  ``Idempotency-Key`` (a retried restock must not restock twice).
"""

from __future__ import annotations

import uuid

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from service_kit.auth.permissions import HasRole
from service_kit.idempotency import idempotent

from . import selectors, services
from .filters import StockItemFilter
from .serializers import AdjustmentCreateSerializer, AdjustmentSerializer, StockItemSerializer

STOCK_READ_ROLES = ("inventory_manager", "support", "admin")
STOCK_WRITE_ROLES = ("inventory_manager", "admin")


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


class StockItemDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = StockItemSerializer

    def get_object(self):
        return selectors.stock_item_get(sku=self.kwargs["sku"])


class AdjustmentListApi(generics.ListAPIView):
    serializer_class = AdjustmentSerializer

    def get_permissions(self):
        roles = STOCK_WRITE_ROLES if self.request.method == "POST" else STOCK_READ_ROLES
        return [HasRole(*roles)()]

    def get_queryset(self):
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
        selectors.stock_item_get(sku=sku)  # not found comes before validation errors
        serializer = AdjustmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        adjustment = services.stock_adjust(
            sku=sku,
            **serializer.validated_data,
            actor_id=actor_id(request),
            actor_email=request.user.email or "",
        )
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)
