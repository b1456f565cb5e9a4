from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrderListApi.as_view(), name="order-list"),
    path("orders/<str:order_id>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_id>/cancel/", views.OrderCancelApi.as_view(), name="order-cancel"),
]
