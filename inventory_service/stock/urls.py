from django.urls import path

from . import views

urlpatterns = [
    path("inventory/<str:sku>/", views.StockItemDetailApi.as_view(), name="stock-detail"),
]
