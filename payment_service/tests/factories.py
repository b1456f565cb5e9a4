import uuid
from decimal import Decimal

import factory
from payments.models import Payment, PaymentStatus, Refund


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment as a row only: no provider was asked (charge through the service for that)."""

    class Meta:
        model = Payment

    order_id = factory.LazyFunction(uuid.uuid4)
    customer_id = factory.LazyFunction(uuid.uuid4)
    amount = Decimal("25.00")
    currency = "EUR"
    status = PaymentStatus.SUCCEEDED
    provider = "sandbox"
    provider_reference = factory.LazyFunction(lambda: f"ch_sandbox_{uuid.uuid4().hex}")
    raw_response = factory.LazyFunction(dict)


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    amount = Decimal("5.00")
    currency = "EUR"
    reason = "damaged"
    source = Refund.Source.API
