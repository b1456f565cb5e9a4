from django.urls import path

from . import views

urlpatterns = [
    path("payments/", views.PaymentListApi.as_view(), name="payment-list"),
    path("payments/<uuid:payment_id>/", views.PaymentDetailApi.as_view(), name="payment-detail"),
    path(
        "payments/<uuid:payment_id>/refunds/",
        views.RefundCreateApi.as_view(),
        name="payment-refunds",
    ),
]
