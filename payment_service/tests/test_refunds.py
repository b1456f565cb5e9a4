"""Refunds: by the saga's ``payment.refund`` command and by the service the API and the admin
call; never above what was captured."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from payments.errors import NotRefundable, RefundExceedsCaptured
from payments.handlers import on_refund
from payments.models import Payment, PaymentStatus, Refund
from payments.services import refund_create

from service_kit.api import IdempotencyKeyReused

from .factories import PaymentFactory
from .helpers import envelope, published

pytestmark = pytest.mark.django_db


def refunded(payment: Payment, amount: str, total: str, reason: str) -> tuple[str, dict]:
    return (
        "payment.refunded",
        {
            "order_id": str(payment.order_id),
            "payment_id": str(payment.pk),
            "amount": amount,
            "currency": "EUR",
            "refunded_amount": total,
            "reason": reason,
        },
    )


def test_partial_refunds_add_up_to_a_full_one():
    payment = PaymentFactory(amount=Decimal("25.00"))

    refund_create(payment_id=payment.pk, amount="10.00", reason="scratched", source="api")
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        Decimal("10.00"),
    )
    refund_create(payment_id=payment.pk, amount="15.00", reason="returned", source="api")
    payment.refresh_from_db()

    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("25.00"))
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("10.00"),
        Decimal("15.00"),
    ]
    assert published() == [
        refunded(payment, "10.00", "10.00", "scratched"),
        refunded(payment, "15.00", "25.00", "returned"),
    ]


@pytest.mark.parametrize(
    ("already", "asked"), [("0.00", "25.01"), ("10.00", "15.01"), ("25.00", "0.01")]
)
def test_a_refund_above_what_is_left_is_refused_and_changes_nothing(already, asked):
    payment = PaymentFactory(
        amount=Decimal("25.00"),
        refunded_amount=Decimal(already),
        status=PaymentStatus.REFUNDED if already == "25.00" else PaymentStatus.SUCCEEDED,
    )

    with pytest.raises(RefundExceedsCaptured) as error:
        refund_create(payment_id=payment.pk, amount=asked, reason="too much", source="api")

    left = Decimal("25.00") - Decimal(already)
    assert error.value.details == {"refundable": f"{left:.2f}", "currency": "EUR"}
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal(already)
    assert not Refund.objects.exists()
    assert published() == []


@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_nothing_captured_nothing_to_refund(status):
    payment = PaymentFactory(status=status)

    with pytest.raises(NotRefundable):
        refund_create(payment_id=payment.pk, amount="1.00", reason="x", source="api")


def test_the_saga_refunds_the_rest_when_it_names_no_amount():
    payment = PaymentFactory(
        amount=Decimal("25.00"),
        refunded_amount=Decimal("5.00"),
        status=PaymentStatus.PARTIALLY_REFUNDED,
    )
    message = envelope("payment.refund", order_id=str(payment.order_id), reason="order_failed")

    assert on_refund.apply(args=[message]).get() == "applied"

    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("25.00"))
    refund = Refund.objects.get()
    assert (refund.amount, refund.source, refund.reason) == (
        Decimal("20.00"),
        "command",
        "order_failed",
    )
    assert published() == [refunded(payment, "20.00", "25.00", "order_failed")]


def test_the_saga_refunding_twice_refunds_once_and_answers_again():
    payment = PaymentFactory(amount=Decimal("25.00"))
    first = envelope("payment.refund", order_id=str(payment.order_id), reason="order_failed")
    second = envelope("payment.refund", order_id=str(payment.order_id), reason="order_failed")

    on_refund.apply(args=[first]).get()
    on_refund.apply(args=[second]).get()
    on_refund.apply(args=[second]).get()  # redelivered: the inbox drops it

    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("25.00")
    assert published() == [refunded(payment, "25.00", "25.00", "order_failed")] * 2


def test_the_saga_refunding_a_part():
    payment = PaymentFactory(amount=Decimal("25.00"))
    message = envelope(
        "payment.refund", order_id=str(payment.order_id), amount="7.50", reason="line_missing"
    )

    on_refund.apply(args=[message]).get()

    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        Decimal("7.50"),
    )


@pytest.mark.parametrize("status", [None, PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_the_saga_refunding_what_was_never_captured_does_nothing(status):
    order_id = PaymentFactory(status=status).order_id if status else uuid.uuid4()
    message = envelope("payment.refund", order_id=str(order_id), reason="order_failed")

    assert on_refund.apply(args=[message]).get() == "applied"

    assert not Refund.objects.exists()
    assert published() == []


def test_the_saga_asking_more_than_is_left_refunds_nothing():
    payment = PaymentFactory(amount=Decimal("25.00"))
    message = envelope("payment.refund", order_id=str(payment.order_id), amount="30.00", reason="x")

    assert on_refund.apply(args=[message]).get() == "applied"

    assert not Refund.objects.exists()
    assert published() == []


# -- a refund's idempotency key names its request, not its position --------------------------------


class Crash(Exception):
    """The process died after the provider refunded, before the transaction committed."""


def refund_that_crashed(payment: Payment, amount: str, **request) -> Refund:
    """Run a refund up to its commit and lose it: the provider refunded, nothing is recorded."""
    seen: list[Refund] = []
    with pytest.raises(Crash), transaction.atomic():
        seen.append(
            refund_create(
                payment_id=payment.pk, amount=amount, reason="first try", source="api", **request
            )
        )
        raise Crash
    assert not Refund.objects.exists()
    return seen[0]


def test_a_new_refund_after_one_that_crashed_is_not_its_replay():
    """Given a refund of 10.00 the provider made before the process died, when staff then ask
    for another refund of 20.00, then the provider refunds 20.00 for it (the n-th refund's key
    used to replay the lost 10.00 and book it as 20.00)."""
    payment = PaymentFactory(amount=Decimal("50.00"))
    lost = refund_that_crashed(payment, "10.00")

    refund = refund_create(payment_id=payment.pk, amount="20.00", reason="another", source="api")

    assert refund.raw_response["amount"] == "20.00"
    assert refund.provider_reference != lost.provider_reference
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (
        Decimal("20.00"),
        PaymentStatus.PARTIALLY_REFUNDED,
    )


def test_a_refund_retried_after_a_crash_refunds_once():
    payment = PaymentFactory(amount=Decimal("50.00"))
    lost = refund_that_crashed(payment, "10.00", request_key="req-1")

    refund = refund_create(
        payment_id=payment.pk, amount="10.00", reason="again", source="api", request_key="req-1"
    )

    assert refund.provider_reference == lost.provider_reference  # the provider's first answer
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("10.00")


def test_a_refund_retried_with_another_amount_is_refused_not_replayed():
    """The same request asked again for another amount: 422, nothing booked, nothing announced
    (the provider's refund of the first amount is not booked as the second)."""
    payment = PaymentFactory(amount=Decimal("50.00"))
    refund_that_crashed(payment, "10.00", request_key="req-2")

    with pytest.raises(IdempotencyKeyReused):
        refund_create(
            payment_id=payment.pk, amount="20.00", reason="x", source="api", request_key="req-2"
        )

    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (Decimal("0.00"), PaymentStatus.SUCCEEDED)
    assert not Refund.objects.exists()
    assert published() == []


def test_a_refund_command_sent_again_refunds_once():
    """The saga resends its compensation (a retried step: a new message id, the same
    ``refund_key``): one refund, announced again."""
    payment = PaymentFactory(amount=Decimal("25.00"))
    data = {"order_id": str(payment.order_id), "amount": "7.50", "reason": "line_missing"}
    first = envelope("payment.refund", **data, refund_key=f"order:{payment.order_id}")
    again = envelope("payment.refund", **data, refund_key=f"order:{payment.order_id}")

    on_refund.apply(args=[first]).get()
    on_refund.apply(args=[again]).get()

    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("7.50")
    assert published() == [refunded(payment, "7.50", "7.50", "line_missing")] * 2


def test_the_api_refund_key_is_the_callers_idempotency_key(as_role):
    """Two staff members who happen to send one Idempotency-Key make two refunds."""
    payment = PaymentFactory(amount=Decimal("25.00"))
    url = f"/api/v1/payments/{payment.pk}/refunds/"
    body = {"amount": "5.00", "reason": "damaged"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "refund-1"}

    one = as_role("payment_manager", amr=["pwd", "otp"]).post(url, body, **headers)
    two = as_role("payment_manager", amr=["pwd", "otp"]).post(url, body, **headers)

    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("10.00")
