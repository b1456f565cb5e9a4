import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from orders.models import Order, OrderLine, OrderStatus, OrderTransition

#: A valid shipping address (the tests copy it; the factory gives each order its own).
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "line2": "",
    "city": "London",
    "region": "",
    "postal_code": "N1 1AA",
    "country": "GB",
}


class OrderFactory(factory.django.DjangoModelFactory):
    """An order as rows only: nothing is sent (place one through the service for that)."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    customer_id = factory.LazyFunction(uuid.uuid4)
    customer_email = factory.Sequence(lambda n: f"customer{n}@example.com")
    status = OrderStatus.PENDING
    total = Decimal("19.00")
    currency = "EUR"
    shipping_address = factory.LazyFunction(lambda: dict(ADDRESS))
    payment_token = "tok_visa"
    deadline_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=1))
    reservation_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=10))

    @factory.post_generation
    def with_line(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            OrderLineFactory(order=obj, unit_price=obj.total, quantity=1, line_total=obj.total)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory, with_line=False)
    product_id = factory.LazyFunction(uuid.uuid4)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = "Mug"
    unit_price = Decimal("9.50")
    quantity = 2
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class OrderTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderTransition

    order = factory.SubFactory(OrderFactory)
    from_status = ""
    to_status = OrderStatus.PENDING
    at = factory.LazyFunction(timezone.now)
    reason = "created"
    actor = "customer:test"
