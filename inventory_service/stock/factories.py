import factory

from .models import StockItem


class StockItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockItem

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    on_hand = 10
    reserved = 0
