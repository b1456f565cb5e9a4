from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListApi.as_view(), name="product-list"),
    path("products/<str:key>/", views.ProductDetailApi.as_view(), name="product-detail"),
    path("categories/", views.CategoryListApi.as_view(), name="category-list"),
]
