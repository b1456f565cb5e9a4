from django.urls import path

from . import views

urlpatterns = [
    path("inventory/", views.StockItemListApi.as_view(), name="stock-list"),
    path("inventory/<str:sku>/", views.StockItemDetailApi.as_view(), name="stock-detail"),
    path(
        "inventory/<str:sku>/adjustments/",
        views.AdjustmentListApi.as_view(),
        name="stock-adjustments",
    ),
]
