"""The saga's one transition function: every allowed step, every refused one, repeats."""

import pytest
from orders.errors import TransitionNotAllowed
from orders.models import OrderStatus, OrderTransition
from orders.services import ALLOWED_TRANSITIONS, STATUS_EVENTS, order_transition

from .factories import OrderFactory
from .helpers import published

pytestmark = pytest.mark.django_db

S = OrderStatus
ALLOWED = [(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in sorted(targets)]
REFUSED = [(a, b) for a in S.values for b in S.values if a != b and b not in ALLOWED_TRANSITIONS[a]]


def test_the_state_machine_is_the_sagas():
    assert sorted(ALLOWED) == sorted(
        [
            (S.PENDING, S.PAYMENT_PENDING),
            (S.PENDING, S.REJECTED),
            (S.PENDING, S.CANCELLED),
            (S.PENDING, S.FAILED),
            (S.PAYMENT_PENDING, S.CONFIRMED),
            (S.PAYMENT_PENDING, S.CANCELLED),
            (S.PAYMENT_PENDING, S.FAILED),
            (S.CONFIRMED, S.REFUNDED),
            (S.CONFIRMED, S.FAILED),
        ]
    )


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_an_allowed_transition_is_made_recorded_and_announced(from_status, to_status):
    order = OrderFactory(status=from_status)

    assert order_transition(order=order, to=to_status, reason="because", actor="test:actor")

    order.refresh_from_db()
    assert order.status == to_status
    step = OrderTransition.objects.get(order=order)
    assert (step.from_status, step.to_status, step.reason, step.actor) == (
        from_status,
        to_status,
        "because",
        "test:actor",
    )
    expected = (
        [
            (
                STATUS_EVENTS[to_status],
                {
                    "order_id": str(order.pk),
                    "customer_id": str(order.customer_id),
                    "reason": "because",
                },
            )
        ]
        if to_status in STATUS_EVENTS
        else []
    )
    assert published() == expected
    assert (order.finished_at is not None) == (to_status != S.PAYMENT_PENDING)


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_transition_outside_the_machine_is_refused_and_changes_nothing(from_status, to_status):
    order = OrderFactory(status=from_status)

    with pytest.raises(TransitionNotAllowed) as refused:
        order_transition(order=order, to=to_status, reason="no", actor="test")

    assert refused.value.status_code == 409
    order.refresh_from_db()
    assert order.status == from_status
    assert not OrderTransition.objects.exists()
    assert published() == []


@pytest.mark.parametrize("status", S.values)
def test_a_transition_to_the_current_status_does_nothing(status):
    order = OrderFactory(status=status)

    assert order_transition(order=order, to=status, reason="again", actor="test") is False

    assert not OrderTransition.objects.exists()
    assert published() == []
