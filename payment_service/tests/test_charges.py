"""The ``payment.charge`` command through the kit's consumer task (inbox, retries, dead
letters), run in this process as a worker would run it, against the sandbox card network."""

import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from payments.handlers import on_charge
from payments.models import Payment, PaymentStatus
from payments.providers.sandbox import SandboxProvider
from payments.services import charge_idempotency_key, payment_charge

from service_kit.models import DeadLetter

from .helpers import charge_message, published

pytestmark = pytest.mark.django_db


def test_the_charge_and_refund_queues_are_the_services_commands():
    assert settings.MESSAGING["COMMANDS"] == ["charge", "refund"]


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard"])
def test_an_approved_card_is_charged_and_announced(token):
    message = charge_message(payment_token=token)
    order_id, customer_id = message["data"]["order_id"], message["data"]["customer_id"]

    assert on_charge.apply(args=[message]).get() == "applied"

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.SUCCEEDED, "")
    assert (payment.amount, payment.currency) == (Decimal("42.50"), "EUR")
    assert str(payment.customer_id) == customer_id
    assert payment.provider == "sandbox"
    assert payment.provider_reference.startswith("ch_sandbox_")
    assert payment.raw_response["status"] == "succeeded"
    assert payment.raw_response["id"] == payment.provider_reference
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 1
    assert published() == [
        (
            "payment.succeeded",
            {
                "order_id": order_id,
                "payment_id": str(payment.pk),
                "amount": "42.50",
                "currency": "EUR",
            },
        )
    ]


@pytest.mark.parametrize(
    ("token", "failure_code"),
    [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_unheardOf", "invalid_token"),
    ],
)
def test_a_declined_card_fails_the_payment_and_takes_no_money(token, failure_code):
    message = charge_message(payment_token=token)
    order_id = message["data"]["order_id"]

    assert on_charge.apply(args=[message]).get() == "applied"

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, failure_code)
    assert payment.raw_response["failure_code"] == failure_code
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 0
    assert published() == [
        (
            "payment.failed",
            {"order_id": order_id, "payment_id": str(payment.pk), "failure_code": failure_code},
        )
    ]


def test_a_processing_error_is_tried_again_and_charges_once():
    message = charge_message(payment_token="tok_processingError")
    order_id = message["data"]["order_id"]
    key = charge_idempotency_key(order_id)

    assert on_charge.apply(args=[message]).get() == "applied"

    payment = Payment.objects.get(order_id=order_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SandboxProvider.attempts(key) == 3  # twice refused, then approved
    assert SandboxProvider.captures(key) == 1
    assert [t for t, _ in published()] == ["payment.succeeded"]


def test_a_processing_error_past_the_calls_retries_is_retried_by_the_queue(settings, caplog):
    # No retries in the call: each attempt of the task meets one transient failure, is undone,
    # and the kit retries the command on its own queue (eager here: at once, in this process);
    # the third attempt is approved.
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER_RETRIES": 0}
    settings.MESSAGING = {**settings.MESSAGING, "RETRY_BACKOFF": 0}
    message = charge_message(payment_token="tok_processingError")
    order_id = message["data"]["order_id"]

    assert on_charge.apply(args=[message]).get() == "applied"

    retries = [r for r in caplog.records if r.getMessage() == "message.retry"]
    assert [r.attempt for r in retries] == [1, 2]
    assert Payment.objects.get(order_id=order_id).status == PaymentStatus.SUCCEEDED
    assert SandboxProvider.attempts(charge_idempotency_key(order_id)) == 3
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 1
    assert [t for t, _ in published()] == ["payment.succeeded"]
    assert not DeadLetter.objects.exists()


def test_a_provider_that_never_answers_leaves_the_payment_pending_and_frees_the_worker():
    message = charge_message(payment_token="tok_timeout")
    order_id = message["data"]["order_id"]

    assert on_charge.apply(args=[message]).get() == "applied"  # consumed, not blocking

    payment = Payment.objects.get(order_id=order_id)
    assert payment.status == PaymentStatus.PENDING
    assert payment.raw_response["error"] == "timeout"
    assert published() == []  # the saga's deadline decides
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 0


def test_a_repeated_charge_never_charges_twice_and_announces_the_outcome_again():
    order_id = str(uuid.uuid4())
    first = charge_message(order_id)
    again = charge_message(order_id, customer_id=first["data"]["customer_id"])  # new message id

    assert on_charge.apply(args=[first]).get() == "applied"
    assert on_charge.apply(args=[again]).get() == "applied"
    assert on_charge.apply(args=[again]).get() == "duplicate"  # the same message: the inbox

    payment = Payment.objects.get(order_id=order_id)
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 1
    expected = {
        "order_id": order_id,
        "payment_id": str(payment.pk),
        "amount": "42.50",
        "currency": "EUR",
    }
    assert published() == [("payment.succeeded", expected)] * 2


def test_a_repeated_charge_of_a_declined_order_does_not_try_another_card():
    order_id = str(uuid.uuid4())
    on_charge.apply(args=[charge_message(order_id, payment_token="tok_chargeDeclined")]).get()

    on_charge.apply(args=[charge_message(order_id, payment_token="tok_visa")]).get()

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "card_declined")
    assert SandboxProvider.captures(charge_idempotency_key(order_id)) == 0
    assert [t for t, _ in published()] == ["payment.failed", "payment.failed"]


def test_a_pending_payment_is_settled_by_the_next_charge_with_the_same_key():
    order_id = str(uuid.uuid4())
    customer_id = uuid.uuid4()
    payment, created = payment_charge(
        order_id=order_id,
        customer_id=customer_id,
        amount="10.00",
        currency="EUR",
        payment_token="tok_timeout",
    )
    assert (payment.status, created) == (PaymentStatus.PENDING, True)

    payment, created = payment_charge(
        order_id=order_id,
        customer_id=customer_id,
        amount="10.00",
        currency="EUR",
        payment_token="tok_visa",
    )

    assert (payment.status, created) == (PaymentStatus.SUCCEEDED, False)
    assert Payment.objects.count() == 1
    assert [t for t, _ in published()] == ["payment.succeeded"]


def test_a_charge_with_another_amount_than_recorded_is_dead_lettered_not_charged(settings):
    settings.MESSAGING = {**settings.MESSAGING, "MAX_RETRIES": 0}
    order_id = str(uuid.uuid4())
    on_charge.apply(args=[charge_message(order_id)]).get()

    result = on_charge.apply(args=[charge_message(order_id, amount="1.00")]).get()

    assert result == "dead_letter"
    assert Payment.objects.get(order_id=order_id).amount == Decimal("42.50")
    assert [t for t, _ in published()] == ["payment.succeeded"]
    # The letter is kept for an operator and shown in the admin: without the card token.
    assert DeadLetter.objects.get().envelope["data"]["payment_token"] == "[redacted]"


def test_a_charge_breaking_its_schema_is_dead_lettered():
    message = charge_message()
    message["data"]["amount"] = "12.5"  # money has two decimal places

    assert on_charge.apply(args=[message]).get() == "invalid"

    assert not Payment.objects.exists()
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.envelope["data"]["payment_token"]) == (
        DeadLetter.Reason.INVALID,
        "[redacted]",
    )
