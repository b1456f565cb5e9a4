"""Rows the staff front page counts, made in a service's own shell (``Stack.shell``): an order
stuck past its deadline (order_service) and a dead letter waiting (inventory_service). The
system test of the front page and its browser test both make them so."""

from __future__ import annotations

#: An order waiting for its payment, ten minutes past its deadline; prints its id. It stays
#: stuck only while the deadline task does not run (a long ``ORDER_DEADLINE_CHECK_INTERVAL``).
STUCK_ORDER = """
import uuid
from datetime import timedelta
from django.utils import timezone
from orders.models import Order
order = Order.objects.create(
    customer_id=uuid.uuid4(), status="PAYMENT_PENDING", total="10.00", currency="EUR",
    deadline_at=timezone.now() - timedelta(minutes=10),
)
print(order.pk)
"""

#: A message inventory_service could not handle, waiting to be replayed; prints its id.
DEAD_LETTER_ID = "console-test-letter"
DEAD_LETTER = f"""
from service_kit.models import DeadLetter
letter = DeadLetter.objects.create(
    message_id={DEAD_LETTER_ID!r}, task="events.product.created", queue="inventory.events",
    envelope={{}}, reason="invalid", error="ValidationError: price is missing", attempts=1,
)
print(letter.pk)
"""
