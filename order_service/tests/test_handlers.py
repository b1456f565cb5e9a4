"""The saga's answers applied through the kit's consumer tasks (inbox, retries, dead letters) in
this process: ``task.apply`` runs the task eagerly, as a worker would run it. Every answer is also
delivered twice with two message ids (what inventory and payment do when a command is repeated):
one transition, one side effect."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from orders.handlers import (
    on_inventory_committed,
    on_inventory_rejected,
    on_inventory_released,
    on_inventory_reserved,
    on_payment_failed,
    on_payment_refunded,
    on_payment_succeeded,
)
from orders.models import Order, OrderStatus, OrderTransition

from .factories import OrderFactory
from .helpers import envelope, published

pytestmark = pytest.mark.django_db

S = OrderStatus
RESERVATION_ID = "00000000-0000-4000-8000-0000000000aa"
PAYMENT_ID = "00000000-0000-4000-8000-0000000000bb"
CONSUMES = [
    "inventory.reserved",
    "inventory.rejected",
    "inventory.committed",
    "inventory.released",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
]


def steps(order) -> list[tuple[str, str, str, str]]:
    return list(
        OrderTransition.objects.filter(order=order)
        .order_by("at", "id")
        .values_list("from_status", "to_status", "reason", "actor")
    )


def reserved(order, expires_at=None) -> dict:
    expires_at = expires_at or timezone.now() + timedelta(minutes=10)
    return envelope(
        "inventory.reserved",
        producer="inventory",
        order_id=str(order.pk),
        reservation_id=RESERVATION_ID,
        lines=[{"sku": "MUG-1", "quantity": 1}],
        expires_at=expires_at.isoformat(),
    )


def succeeded(order, amount="19.00", currency="EUR") -> dict:
    return envelope(
        "payment.succeeded",
        producer="payment",
        order_id=str(order.pk),
        payment_id=PAYMENT_ID,
        amount=amount,
        currency=currency,
    )


def failed(order) -> dict:
    return envelope(
        "payment.failed",
        producer="payment",
        order_id=str(order.pk),
        payment_id=PAYMENT_ID,
        failure_code="card_declined",
    )


def rejected(order, reason=None, short=None) -> dict:
    data = {"order_id": str(order.pk), "short": short or []}
    if reason:
        data["reason"] = reason
    return envelope("inventory.rejected", producer="inventory", **data)


def event(name, order, reason) -> tuple[str, dict]:
    return (
        name,
        {"order_id": str(order.pk), "customer_id": str(order.customer_id), "reason": reason},
    )


def test_the_events_queue_is_bound_to_the_sagas_answers_and_the_deadline_task_is_scheduled():
    from order_service.celery import app

    assert settings.MESSAGING["CONSUMES"] == CONSUMES
    queues = {queue.name: queue for queue in app.conf.task_queues}
    assert set(queues) == {"order.tasks", "order.events"}
    assert sorted(
        (b.exchange.name, b.routing_key) for b in queues["order.events"].bindings
    ) == sorted(
        [*(("domain_events", e) for e in CONSUMES), ("domain_commands", "retry.order.events")]
    )
    for name in CONSUMES:
        assert app.tasks[f"events.{name}"].queue_name == "order.events"
    entry = app.conf.beat_schedule["order-deadlines"]
    assert entry["task"] == "orders.deadlines_enforce"
    assert entry["schedule"] == timedelta(seconds=settings.DEADLINE_CHECK_INTERVAL)
    assert entry["options"]["queue"] == "order.tasks"
    app.loader.import_default_modules()
    assert "orders.deadlines_enforce" in app.tasks


# -- inventory.reserved ----------------------------------------------------------------------------


def test_reserved_asks_for_the_payment_and_sets_the_deadline():
    order = OrderFactory(status=S.PENDING, payment_token="tok_visa")
    before = timezone.now()

    assert on_inventory_reserved.apply(args=[reserved(order)]).get() == "applied"

    order.refresh_from_db()
    assert order.status == S.PAYMENT_PENDING
    assert order.payment_token == "tok_visa"  # until the payment answers (a retried step)
    assert str(order.reservation_id) == RESERVATION_ID
    deadline = timedelta(seconds=settings.PAYMENT_DEADLINE)
    assert before + deadline <= order.deadline_at <= timezone.now() + deadline
    assert published() == [
        (
            "payment.charge",
            {
                "order_id": str(order.pk),
                "customer_id": str(order.customer_id),
                "amount": "19.00",
                "currency": "EUR",
                "payment_token": "tok_visa",
            },
        )
    ]
    assert steps(order) == [
        (S.PENDING, S.PAYMENT_PENDING, "stock reserved", "inventory:inventory.reserved")
    ]


def test_the_payment_deadline_never_passes_the_reservations_expiry():
    order = OrderFactory(status=S.PENDING)
    expires_at = (timezone.now() + timedelta(seconds=30)).replace(microsecond=0)

    on_inventory_reserved.apply(args=[reserved(order, expires_at)])

    order.refresh_from_db()
    assert order.deadline_at == expires_at


def test_reserved_delivered_twice_charges_once():
    order = OrderFactory(status=S.PENDING)
    message = reserved(order)

    results = [
        on_inventory_reserved.apply(args=[message]).get(),
        on_inventory_reserved.apply(args=[message]).get(),  # the same message again
        on_inventory_reserved.apply(args=[reserved(order)]).get(),  # re-announced: a new id
    ]

    assert results == ["applied", "duplicate", "applied"]
    assert [t for t, _ in published()] == ["payment.charge"]
    assert len(steps(order)) == 1


@pytest.mark.parametrize("status", [S.CANCELLED, S.FAILED, S.REJECTED, S.CONFIRMED])
def test_reserved_for_an_order_no_longer_pending_changes_nothing(status):
    order = OrderFactory(status=status)

    on_inventory_reserved.apply(args=[reserved(order)])

    assert Order.objects.get().status == status
    assert published() == []


def test_an_answer_about_an_unknown_order_is_dropped():
    ghost = OrderFactory.build()

    assert on_inventory_reserved.apply(args=[reserved(ghost)]).get() == "applied"
    assert published() == []


# -- inventory.rejected ----------------------------------------------------------------------------


def test_rejected_rejects_a_pending_order_without_a_charge():
    order = OrderFactory(status=S.PENDING)
    short = [{"sku": "MUG-1", "requested": 3, "available": 1}]

    on_inventory_rejected.apply(args=[rejected(order, "insufficient_stock", short)])
    on_inventory_rejected.apply(args=[rejected(order, "insufficient_stock", short)])

    order.refresh_from_db()
    assert order.status == S.REJECTED
    reason = "insufficient_stock: MUG-1 (requested 3, available 1)"
    assert published() == [event("order.rejected", order, reason)]
    assert steps(order) == [(S.PENDING, S.REJECTED, reason, "inventory:inventory.rejected")]


def test_a_refused_commit_fails_a_confirmed_order_and_refunds_it_once():
    order = OrderFactory(status=S.CONFIRMED, paid_at=timezone.now())

    on_inventory_rejected.apply(args=[rejected(order, "expired")])
    on_inventory_rejected.apply(args=[rejected(order, "expired")])

    order.refresh_from_db()
    assert order.status == S.FAILED
    assert published() == [
        event("order.failed", order, "stock commit refused: expired"),
        (
            "payment.refund",
            {
                "order_id": str(order.pk),
                "amount": "19.00",
                "reason": "stock commit refused",
                "refund_key": f"order:{order.pk}",
            },
        ),
    ]


# -- payment.succeeded / failed --------------------------------------------------------------------


def test_succeeded_confirms_commits_the_stock_and_announces_it_once():
    order = OrderFactory(status=S.PAYMENT_PENDING, payment_token="")

    on_payment_succeeded.apply(args=[succeeded(order)])
    on_payment_succeeded.apply(args=[succeeded(order)])

    order.refresh_from_db()
    assert order.status == S.CONFIRMED
    assert str(order.payment_id) == PAYMENT_ID
    assert order.paid_at is not None and order.deadline_at is None
    assert published() == [
        event("order.confirmed", order, "payment captured"),
        ("inventory.commit", {"order_id": str(order.pk)}),
    ]
    assert steps(order) == [
        (S.PAYMENT_PENDING, S.CONFIRMED, "payment captured", "payment:payment.succeeded")
    ]


@pytest.mark.parametrize("status", [S.FAILED, S.CANCELLED, S.REJECTED])
def test_a_late_success_is_refunded_once(status):
    order = OrderFactory(status=status)

    on_payment_succeeded.apply(args=[succeeded(order)])
    on_payment_succeeded.apply(args=[succeeded(order)])

    order.refresh_from_db()
    assert order.status == status
    assert order.refund_requested_at is not None
    assert published() == [
        (
            "payment.refund",
            {
                "order_id": str(order.pk),
                "amount": "19.00",
                "reason": f"payment arrived after the order was {status}",
                "refund_key": f"order:{order.pk}",
            },
        )
    ]
    assert steps(order) == []


def test_a_success_for_another_amount_fails_releases_and_refunds():
    order = OrderFactory(status=S.PAYMENT_PENDING)

    on_payment_succeeded.apply(args=[succeeded(order, amount="1.00")])

    order.refresh_from_db()
    assert order.status == S.FAILED
    assert [t for t, _ in published()] == ["order.failed", "inventory.release", "payment.refund"]


def test_failed_cancels_and_releases_the_stock_once():
    order = OrderFactory(status=S.PAYMENT_PENDING)

    on_payment_failed.apply(args=[failed(order)])
    on_payment_failed.apply(args=[failed(order)])

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert published() == [
        event("order.cancelled", order, "payment failed: card_declined"),
        ("inventory.release", {"order_id": str(order.pk), "reason": "payment_failed"}),
    ]


@pytest.mark.parametrize("status", [S.PENDING, S.CONFIRMED, S.FAILED])
def test_failed_for_an_order_not_waiting_for_its_payment_changes_nothing(status):
    order = OrderFactory(status=status)

    on_payment_failed.apply(args=[failed(order)])

    assert Order.objects.get().status == status
    assert published() == []


# -- acknowledgements and refunds ------------------------------------------------------------------


def test_committed_and_released_are_recorded():
    order = OrderFactory(status=S.CONFIRMED)
    data = {"order_id": str(order.pk), "reservation_id": RESERVATION_ID}

    on_inventory_committed.apply(args=[envelope("inventory.committed", **data)])

    order.refresh_from_db()
    assert order.stock_committed_at is not None
    assert order.status == S.CONFIRMED
    assert published() == []


def test_a_reservation_released_under_a_waiting_order_fails_it():
    order = OrderFactory(status=S.PAYMENT_PENDING)
    data = {"order_id": str(order.pk), "reservation_id": RESERVATION_ID, "reason": "expired"}

    on_inventory_released.apply(args=[envelope("inventory.released", producer="inventory", **data)])

    order.refresh_from_db()
    assert (order.status, order.stock_released_at is not None) == (S.FAILED, True)
    assert published() == [event("order.failed", order, "reservation expired")]


def test_refunded_ends_a_confirmed_order_refunded():
    order = OrderFactory(status=S.CONFIRMED, refund_requested_at=timezone.now())
    data = {
        "order_id": str(order.pk),
        "payment_id": PAYMENT_ID,
        "amount": "19.00",
        "currency": "EUR",
        "refunded_amount": "19.00",
    }

    on_payment_refunded.apply(args=[envelope("payment.refunded", producer="payment", **data)])
    on_payment_refunded.apply(args=[envelope("payment.refunded", producer="payment", **data)])

    order.refresh_from_db()
    assert order.status == S.REFUNDED
    assert order.refunded_at is not None
    assert published() == [event("order.refunded", order, "payment refunded")]


def refunded_message(order, amount: str, refunded_amount: str) -> dict:
    data = {
        "order_id": str(order.pk),
        "payment_id": PAYMENT_ID,
        "amount": amount,
        "currency": "EUR",
        "refunded_amount": refunded_amount,
    }
    return envelope("payment.refunded", producer="payment", **data)


def test_a_partial_refund_leaves_the_order_confirmed_with_its_refunded_amount():
    """Given a confirmed order of 19.00, when payment_service refunds 5.00 of it (staff, through
    the payments API), then the order stays CONFIRMED and shows 5.00 back; when the remaining
    14.00 follows, it is REFUNDED."""
    order = OrderFactory(status=S.CONFIRMED, paid_at=timezone.now())

    on_payment_refunded.apply(args=[refunded_message(order, "5.00", "5.00")])

    order.refresh_from_db()
    assert (order.status, order.refunded_amount, order.refunded_at) == (
        S.CONFIRMED,
        Decimal("5.00"),
        None,
    )
    assert published() == []

    on_payment_refunded.apply(args=[refunded_message(order, "14.00", "19.00")])
    on_payment_refunded.apply(args=[refunded_message(order, "5.00", "5.00")])  # late, older

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, Decimal("19.00"))
    assert order.refunded_at is not None
    assert published() == [event("order.refunded", order, "payment refunded")]


def test_a_message_that_breaks_its_schema_is_dead_lettered():
    from service_kit.models import DeadLetter

    bad = envelope(
        "payment.failed", order_id=str(uuid.uuid4()), payment_id=PAYMENT_ID, failure_code="x"
    )
    bad["data"].pop("failure_code")

    assert on_payment_failed.apply(args=[bad]).get() == "invalid"
    assert DeadLetter.objects.get().task == "events.payment.failed"


def test_a_whole_saga_history_reads_in_order():
    order = OrderFactory(status=S.PENDING)

    on_inventory_reserved.apply(args=[reserved(order)])
    on_payment_succeeded.apply(args=[succeeded(order, amount=str(Decimal("19.00")))])

    assert [s[1] for s in steps(order)] == [S.PAYMENT_PENDING, S.CONFIRMED]
    assert [t for t, _ in published()] == [
        "payment.charge",
        "order.confirmed",
        "inventory.commit",
    ]


# -- versions: a newer minor, a second major beside the first, an unknown major ------------------


@pytest.fixture
def v2_beside_v1():
    """Adds major 2 of payment.succeeded beside major 1 when called (a producer's migration)."""
    from service_kit.messaging import registry

    message_type = registry["payment.succeeded"]
    schema = {"type": "object", "required": ["order"], "properties": {"order": {"type": "string"}}}
    yield lambda: registry.register("payment.succeeded", schema, owner="payment", version="2.0")
    message_type.contracts.pop(2, None)


def test_order_reads_any_minor_of_major_1_and_skips_major_2_sent_beside_it(v2_beside_v1):
    from service_kit.models import DeadLetter

    order = OrderFactory(status=S.PAYMENT_PENDING, payment_token="")
    v1_3, v2, v3 = succeeded(order), succeeded(order), succeeded(order)
    v1_3 = {**v1_3, "version": "1.3", "data": {**v1_3["data"], "card_brand": "visa"}}
    v2 = {**v2, "version": "2.0", "data": {"order": str(order.pk)}}
    v3 = {**v3, "version": "3.0"}
    v2_beside_v1()

    assert on_payment_succeeded.apply(args=[v2]).get() == "other_major"
    order.refresh_from_db()
    assert order.status == S.PAYMENT_PENDING

    assert on_payment_succeeded.apply(args=[v1_3]).get() == "applied"
    order.refresh_from_db()
    assert order.status == S.CONFIRMED

    assert on_payment_succeeded.apply(args=[v3]).get() == "unknown_version"
    letter = DeadLetter.objects.get(message_id=v3["id"])
    assert letter.reason == "unknown_version"
    assert "major 3 is unknown here (known: 1, 2)" in letter.error
