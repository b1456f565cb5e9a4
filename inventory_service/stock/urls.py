from django.urls import path

from . import views

urlpatterns = [
    path("inventory/", views.StockItemListApi.as_view(), name="stock-list"),
    # Before "<sku>/": "reservations" is read as this route, never as a SKU (a SKU of that name is
    # shadowed for GET {sku}/ only; its adjustments' route is not).
    path(
        "inventory/reservations/",
        views.ReservationListApi.as_view(),
        name="reservation-list",
    ),
    path("inventory/<str:sku>/", views.StockItemDetailApi.as_view(), name="stock-detail"),
    path(
        "inventory/<str:sku>/adjustments/",
        views.AdjustmentListApi.as_view(),
        name="stock-adjustments",
    ),
]
