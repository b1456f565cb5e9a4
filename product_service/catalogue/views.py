from rest_framework import generics

from . import selectors
from .serializers import CategorySerializer, ProductSerializer


class ProductListApi(generics.ListAPIView):
    serializer_class = ProductSerializer

    def get_queryset(self):
        return selectors.product_list(active_only=True)


class ProductDetailApi(generics.RetrieveAPIView):
    serializer_class = ProductSerializer

    def get_object(self):
        return selectors.product_get(key=self.kwargs["key"])


class CategoryListApi(generics.ListAPIView):
    serializer_class = CategorySerializer

    def get_queryset(self):
        return selectors.category_list()
