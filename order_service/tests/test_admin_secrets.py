import uuid
from datetime import timedelta

from django.utils import timezone
from orders import services
from orders.models import ReconciliationMismatch

from platform_tools.testing.secrets import admin_pages_test
from service_kit.models import OutboxMessage

from .factories import OrderFactory


def charge_sent() -> OutboxMessage:
    """The outbox row the saga writes when stock is reserved: ``payment.charge``, whose payload
    carries the customer's card token."""
    order = OrderFactory.create()
    services.reservation_reserved(
        order_id=order.pk,
        reservation_id=uuid.uuid4(),
        expires_at=timezone.now() + timedelta(minutes=10),
        actor="test",
    )
    return OutboxMessage.objects.get(name="payment.charge")


def mismatch_found() -> ReconciliationMismatch:
    order = OrderFactory.create(status="CONFIRMED")
    return ReconciliationMismatch.objects.create(
        order_id=order.pk,
        kind=ReconciliationMismatch.Kind.CONFIRMED_NOT_CAPTURED,
        details={"order_total": "45.00", "captured": "0.00"},
    )


test_no_admin_page_shows_a_secret = admin_pages_test(
    factories=["tests.factories"],
    make={
        "service_kit.outboxmessage": charge_sent,
        "orders.reconciliationmismatch": mismatch_found,
    },
)
