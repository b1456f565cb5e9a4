import uuid

from platform_tools.testing.secrets import admin_pages_test
from service_kit.messaging import Envelope
from service_kit.models import DeadLetter


def charge_dead_lettered() -> DeadLetter:
    """A ``payment.charge`` command that could not be handled, kept whole for its replay: its
    payload carries the customer's card token."""
    envelope = Envelope.new(
        "payment.charge",
        {
            "order_id": str(uuid.uuid4()),
            "customer_id": str(uuid.uuid4()),
            "amount": "45.00",
            "currency": "EUR",
            "payment_token": "tok_visa",
        },
    )
    return DeadLetter.objects.create(
        message_id=envelope.id,
        task="payment.charge",
        queue="payment.charge",
        envelope=envelope.as_dict(),
        reason=DeadLetter.Reason.choices[0][0],
        error="ProviderError: timeout",
    )


test_no_admin_page_shows_a_secret = admin_pages_test(
    factories=["tests.factories"], make={"service_kit.deadletter": charge_dead_lettered}
)
