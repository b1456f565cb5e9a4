"""The deadline task, cancellation, staff refunds and retrying a stuck step."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from orders import services
from orders.errors import TransitionNotAllowed
from orders.models import OrderStatus
from orders.tasks import deadlines_enforce

from service_kit.messaging import sweep
from service_kit.redaction import REDACTED

from .factories import OrderFactory
from .helpers import published

pytestmark = pytest.mark.django_db

S = OrderStatus


def overdue(**fields):
    return OrderFactory(deadline_at=timezone.now() - timedelta(seconds=1), **fields)


def test_the_deadline_task_fails_overdue_orders_and_releases_their_stock_once():
    waiting = overdue(status=S.PAYMENT_PENDING, payment_token="")
    pending = overdue(status=S.PENDING)
    in_time = OrderFactory(status=S.PAYMENT_PENDING)

    assert deadlines_enforce.apply().get() == 2
    assert deadlines_enforce.apply().get() == 0

    for order, step in ((waiting, "payment"), (pending, "reservation")):
        order.refresh_from_db()
        assert order.status == S.FAILED
        assert order.deadline_at is None
        assert order.transitions.get().actor == "order:deadline"
        assert order.transitions.get().reason == f"{step} deadline passed"
    in_time.refresh_from_db()
    assert in_time.status == S.PAYMENT_PENDING
    assert sorted(published(), key=lambda m: (m[1]["order_id"], m[0])) == sorted(
        [
            (
                "order.failed",
                {
                    "order_id": str(o.pk),
                    "customer_id": str(o.customer_id),
                    "reason": f"{step} deadline passed",
                },
            )
            for o, step in ((waiting, "payment"), (pending, "reservation"))
        ]
        + [
            ("inventory.release", {"order_id": str(o.pk), "reason": "deadline"})
            for o in (waiting, pending)
        ],
        key=lambda m: (m[1]["order_id"], m[0]),
    )


def test_an_overdue_order_whose_money_was_taken_is_also_refunded():
    overdue(status=S.PAYMENT_PENDING, paid_at=timezone.now())

    services.orders_fail_overdue()

    assert [t for t, _ in published()] == ["order.failed", "inventory.release", "payment.refund"]


@pytest.mark.parametrize("status", [S.PENDING, S.PAYMENT_PENDING])
def test_a_customer_cancels_before_confirmation_and_the_stock_is_released(status):
    order = OrderFactory(status=status)

    services.order_cancel(order_id=order.pk, actor="customer:x", staff=False)
    services.order_cancel(order_id=order.pk, actor="customer:x", staff=False)  # no-op

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert published() == [
        (
            "order.cancelled",
            {
                "order_id": str(order.pk),
                "customer_id": str(order.customer_id),
                "reason": "cancelled on request",
            },
        ),
        ("inventory.release", {"order_id": str(order.pk), "reason": "cancelled"}),
    ]


@pytest.mark.parametrize("status", [S.CONFIRMED, S.REJECTED, S.FAILED, S.REFUNDED])
def test_a_customer_cannot_cancel_after_the_saga_ended(status):
    order = OrderFactory(status=status)

    with pytest.raises(TransitionNotAllowed):
        services.order_cancel(order_id=order.pk, actor="customer:x", staff=False)
    assert published() == []


def test_staff_cancel_a_confirmed_order_by_refunding_it_then_it_is_refunded():
    order = OrderFactory(status=S.CONFIRMED, paid_at=timezone.now())

    services.order_cancel(order_id=order.pk, actor="staff:m", staff=True, reason="damaged")
    services.order_refund(order_id=order.pk, actor="staff:m", reason="again")  # nothing more

    order.refresh_from_db()
    assert order.status == S.CONFIRMED
    assert published() == [
        (
            "payment.refund",
            {
                "order_id": str(order.pk),
                "amount": "19.00",
                "reason": "damaged",
                "refund_key": f"order:{order.pk}",
            },
        )
    ]
    services.payment_refunded(
        order_id=order.pk, refunded_amount=Decimal("19.00"), actor="payment:payment.refunded"
    )
    order.refresh_from_db()
    assert order.status == S.REFUNDED


@pytest.mark.parametrize(
    ("fields", "command"),
    [
        ({"status": S.PENDING}, "inventory.reserve"),
        ({"status": S.CONFIRMED}, "inventory.commit"),
        ({"status": S.CANCELLED}, "inventory.release"),
        ({"status": S.FAILED, "refund_requested_at": timezone.now()}, "payment.refund"),
    ],
)
def test_retry_resends_the_command_the_order_waits_for(fields, command):
    order = OrderFactory(**fields)

    assert services.order_retry_step(order_id=order.pk, actor="staff:m") == command
    assert [t for t, _ in published()] == [command]


def reserved_and_charged(order) -> None:
    """inventory.reserved applied and the charge it sent published (the kit's sweep)."""
    services.reservation_reserved(
        order_id=order.pk,
        reservation_id=order.pk,
        expires_at=timezone.now() + timedelta(minutes=5),
        actor="test",
    )
    assert sweep(older_than=0) == 1


def test_retry_of_a_payment_resends_the_charge_with_the_token_the_order_keeps():
    """The published charge's outbox row keeps no card token; the order keeps it while it waits
    for the payment, so a retried step still sends a charge payment_service can make."""
    order = OrderFactory(status=S.PENDING, payment_token="tok_visa")
    reserved_and_charged(order)

    assert services.order_retry_step(order_id=order.pk, actor="staff:m") == "payment.charge"

    [(_, first), (_, again)] = published("payment.charge")
    assert first["payment_token"] == REDACTED
    assert again == {**first, "payment_token": "tok_visa"}


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (
            lambda o: services.payment_succeeded(
                order_id=o.pk, payment_id=o.pk, amount=o.total, currency="EUR", actor="test"
            ),
            S.CONFIRMED,
        ),
        (
            lambda o: services.payment_failed(order_id=o.pk, failure_code="declined", actor="t"),
            S.CANCELLED,
        ),
        (
            lambda o: services.order_cancel(order_id=o.pk, actor="customer:x", staff=False),
            S.CANCELLED,
        ),
    ],
    ids=["succeeded", "failed", "cancelled"],
)
def test_the_card_token_is_forgotten_once_the_payment_has_a_result(answer, status):
    order = OrderFactory(status=S.PENDING, payment_token="tok_visa")
    reserved_and_charged(order)

    answer(order)

    order.refresh_from_db()
    assert (order.status, order.payment_token) == (status, "")
    assert services.order_retry_step(order_id=order.pk, actor="staff:m") != "payment.charge"


@pytest.mark.parametrize("status", [S.REJECTED, S.REFUNDED])
def test_nothing_to_retry_is_a_conflict(status):
    order = OrderFactory(status=status)

    with pytest.raises(TransitionNotAllowed):
        services.order_retry_step(order_id=order.pk, actor="staff:m")
