from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListApi.as_view(), name="product-list"),
    path("products/<str:key>/", views.ProductDetailApi.as_view(), name="product-detail"),
    path(
        "products/<str:key>/images/",
        views.ProductImageListApi.as_view(),
        name="product-image-list",
    ),
    path(
        "products/<str:key>/images/<uuid:image_id>/",
        views.ProductImageDetailApi.as_view(),
        name="product-image-detail",
    ),
    path("categories/", views.CategoryListApi.as_view(), name="category-list"),
    path("categories/<str:key>/", views.CategoryDetailApi.as_view(), name="category-detail"),
]
