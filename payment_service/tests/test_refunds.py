"""Refunds: by the saga's ``payment.refund`` command and by the service the API and the admin
call; never above what was captured."""

import uuid
from decimal import Decimal

import pytest
from payments.errors import NotRefundable, RefundExceedsCaptured
from payments.factories import PaymentFactory
from payments.handlers import on_refund
from payments.models import Payment, PaymentStatus, Refund
from payments.services import refund_create

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
