from rest_framework import generics
from rest_framework.permissions import AllowAny

from . import selectors
from .serializers import CategorySerializer, ProductSerializer


class ProductListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ProductSerializer

    def get_queryset(self):
        return selectors.product_list(active_only=True)


class ProductDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = ProductSerializer

    def get_object(self):
        return selectors.product_get(key=self.kwargs["key"])


class CategoryListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CategorySerializer

    def get_queryset(self):
        return selectors.category_list()
