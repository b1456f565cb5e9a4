from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", views.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout/", views.LogoutApi.as_view(), name="logout"),
    path("auth/register/", views.RegisterApi.as_view(), name="register"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
    path("auth/password/change/", views.PasswordChangeApi.as_view(), name="password-change"),
    path("auth/password/reset/", views.PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm/",
        views.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/users/<uuid:user_id>/", views.AccountDetailApi.as_view(), name="account-detail"),
    path("auth/service-token/", views.ServiceTokenApi.as_view(), name="service-token"),
]
