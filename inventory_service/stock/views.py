from django.shortcuts import get_object_or_404
from rest_framework import generics

from .models import StockItem
from .serializers import StockItemSerializer


class StockItemDetailApi(generics.RetrieveAPIView):
    serializer_class = StockItemSerializer

    def get_object(self):
        return get_object_or_404(StockItem, sku=self.kwargs["sku"])
