import uuid
from datetime import timedelta

import factory
from django.utils import timezone
from stock.models import Adjustment, Reservation, StockItem


class StockItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockItem

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    on_hand = 10
    reserved = 0


class ReservationFactory(factory.django.DjangoModelFactory):
    """A reservation as a row only: it holds no stock (reserve through the service for that)."""

    class Meta:
        model = Reservation

    order_id = factory.LazyFunction(uuid.uuid4)
    state = Reservation.State.RESERVED
    lines = factory.LazyFunction(lambda: [{"sku": "SKU-ANY", "quantity": 1}])
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


class AdjustmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Adjustment

    stock_item = factory.SubFactory(StockItemFactory)
    kind = Adjustment.Kind.RESTOCK
    quantity = 5
    delta = 5
    on_hand_after = factory.LazyAttribute(lambda o: o.stock_item.on_hand)
    reason = "delivery"
    actor_email = "stock@example.com"
