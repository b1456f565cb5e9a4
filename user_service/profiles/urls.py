from django.urls import path

from . import views

urlpatterns = [
    path("users/me/", views.MeApi.as_view(), name="user-me"),
    path("users/me/addresses/", views.AddressListApi.as_view(), name="address-list"),
    path(
        "users/me/addresses/<uuid:address_id>/",
        views.AddressDetailApi.as_view(),
        name="address-detail",
    ),
    path("users/me/avatar/", views.AvatarApi.as_view(), name="user-avatar"),
    path("users/<uuid:user_id>/", views.UserDetailApi.as_view(), name="user-detail"),
]
