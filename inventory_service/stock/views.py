from django.shortcuts import get_object_or_404
from rest_framework import generics
from rest_framework.permissions import AllowAny

from .models import StockItem
from .serializers import StockItemSerializer


class StockItemDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = StockItemSerializer

    def get_object(self):
        return get_object_or_404(StockItem, sku=self.kwargs["sku"])
