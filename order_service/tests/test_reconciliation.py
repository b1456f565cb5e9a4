"""The reconciliation of final orders against payment_service's payments and inventory_service's
reservations, each service replaced by a local HTTP stand-in for its batch read."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from orders import reconciliation
from orders.handlers import on_payment_refunded
from orders.models import Order, OrderStatus, ReconciliationMismatch
from orders.reconciliation import reconcile_orders
from orders.tasks import reconcile

from platform_tools.testing.stubs import JsonStub
from service_kit.api import UpstreamUnavailable
from service_kit.http import breaker_for

from .factories import OrderFactory
from .helpers import envelope

pytestmark = pytest.mark.django_db

S = OrderStatus


class BatchStub(JsonStub):
    """A service's ``GET <path>?order_ids=…`` (at most 100, paginated by ``page_size``, a
    ``next`` link while more are left) answered from ``rows`` by order id."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.rows: dict[str, dict] = {}
        self.status = 200
        self.page_size: int | None = None  # forced, to make the stub paginate

    def answer(self, request: dict) -> tuple[int, dict]:
        query = {key: values[0] for key, values in request["query"].items()}
        if request["path"] != self.path:
            return 404, {"error": {"code": "not_found"}}
        if self.status != 200:
            return self.status, {"error": {"code": "boom"}}
        ids = query.get("order_ids", "").split(",")
        if len(ids) > 100:
            return 400, {"error": {"code": "validation_error"}}
        rows = [self.rows[i] for i in ids if i in self.rows]
        size = self.page_size or int(query.get("page_size", 20))
        page = int(query.get("page", 1))
        following = None
        if page * size < len(rows):
            following = f"http://{request['host']}{self.path}?" + urlencode(
                {**query, "page": page + 1}
            )
        chunk = rows[(page - 1) * size : page * size]
        return 200, {"count": len(rows), "next": following, "previous": None, "results": chunk}


def _reset_breakers() -> None:
    for name in ("payment", "inventory"):
        breaker_for(name, failures=5, reset_timeout=10).reset()


@pytest.fixture
def services(settings, monkeypatch):
    """``(payments, reservations)``: the two stand-ins, wired as this service's upstreams, and a
    service token the calls must carry."""
    payments = BatchStub("/api/v1/payments/")
    reservations = BatchStub("/api/v1/inventory/reservations/")
    settings.UPSTREAMS = {
        **settings.UPSTREAMS,
        "payment": payments.start(),
        "inventory": reservations.start(),
    }
    monkeypatch.setattr(reconciliation, "service_token", lambda: "svc-order-token")
    _reset_breakers()
    yield payments, reservations
    payments.stop()
    reservations.stop()
    _reset_breakers()


def settled(order: Order, *, minutes: int = 10) -> Order:
    """The order last changed ``minutes`` ago (past the grace)."""
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))
    order.refresh_from_db()
    return order


def paid(payments: BatchStub, order: Order, status="SUCCEEDED", amount=None, refunded="0.00"):
    payments.rows[str(order.pk)] = {
        "id": str(uuid.uuid4()),
        "order_id": str(order.pk),
        "amount": str(amount if amount is not None else order.total),
        "currency": order.currency,
        "status": status,
        "failure_code": "",
        "refunded_amount": refunded,
        "created_at": "2026-01-01T00:00:00Z",
    }


def held(reservations: BatchStub, order: Order, state: str) -> None:
    reservations.rows[str(order.pk)] = {
        "order_id": str(order.pk),
        "reservation_id": str(uuid.uuid4()),
        "state": state,
        "lines": [{"sku": "MUG", "quantity": 1}],
    }


def confirmed(**fields) -> Order:
    now = timezone.now()
    return settled(
        OrderFactory.create(status=S.CONFIRMED, paid_at=now, stock_committed_at=now, **fields)
    )


def mismatches() -> list[tuple[uuid.UUID, str]]:
    return sorted(ReconciliationMismatch.objects.values_list("order_id", "kind"))


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The kinds counted in ``order_reconciliation_mismatches_total``, in order."""
    kinds: list[str] = []
    real = reconciliation.metrics.mismatch

    def mismatch(kind: str) -> None:
        kinds.append(str(kind))
        real(kind)

    monkeypatch.setattr(reconciliation.metrics, "mismatch", mismatch)
    return kinds


def test_orders_that_agree_with_payments_and_stock_are_no_mismatch(services):
    payments, reservations = services
    ok = confirmed()
    paid(payments, ok)
    held(reservations, ok, "COMMITTED")
    partly = confirmed(refunded_amount=Decimal("5.00"))
    paid(payments, partly, "PARTIALLY_REFUNDED", refunded="5.00")
    held(reservations, partly, "COMMITTED")
    rejected = settled(OrderFactory(status=S.REJECTED))
    held(reservations, rejected, "REJECTED")
    declined = settled(OrderFactory(status=S.CANCELLED))
    paid(payments, declined, "FAILED")
    held(reservations, declined, "RELEASED")
    timed_out = settled(OrderFactory(status=S.FAILED))
    paid(payments, timed_out, "PENDING")
    held(reservations, timed_out, "EXPIRED")
    still_held = settled(OrderFactory(status=S.CANCELLED))  # the release not yet done: no stock
    held(reservations, still_held, "RESERVED")  # committed, so no mismatch
    late = settled(OrderFactory(status=S.FAILED, paid_at=timezone.now()))
    paid(payments, late, "REFUNDED", refunded=str(late.total))
    held(reservations, late, "RELEASED")
    refunded = settled(OrderFactory(status=S.REFUNDED, paid_at=timezone.now()))
    paid(payments, refunded, "REFUNDED", refunded=str(refunded.total))
    held(reservations, refunded, "COMMITTED")  # the money back, not the goods

    report = reconcile_orders()

    assert report.checked == 8
    assert report.found == [] and report.new == 0
    assert mismatches() == []


def test_every_disagreement_is_recorded_once_and_counted(services, counted):
    payments, reservations = services
    unpaid = confirmed()
    held(reservations, unpaid, "COMMITTED")
    wrong = confirmed()
    paid(payments, wrong, amount=Decimal("1.00"))
    held(reservations, wrong, "COMMITTED")
    uncommitted = confirmed()
    paid(payments, uncommitted)
    held(reservations, uncommitted, "RELEASED")
    no_stock = confirmed()
    paid(payments, no_stock)  # no reservation at all
    kept = settled(OrderFactory(status=S.CANCELLED, paid_at=timezone.now()))
    paid(payments, kept)
    held(reservations, kept, "RELEASED")
    half = settled(OrderFactory(status=S.REFUNDED, paid_at=timezone.now()))
    paid(payments, half, "PARTIALLY_REFUNDED", refunded="1.00")
    held(reservations, half, "COMMITTED")
    shipped = settled(OrderFactory(status=S.FAILED))
    held(reservations, shipped, "COMMITTED")

    assert reconcile.apply().get() == 7
    again = reconcile_orders()

    assert (len(again.found), again.new) == (7, 0)
    assert mismatches() == sorted(
        [
            (unpaid.pk, "confirmed_not_captured"),
            (wrong.pk, "amount_differs"),
            (uncommitted.pk, "confirmed_not_committed"),
            (no_stock.pk, "confirmed_not_committed"),
            (kept.pk, "captured_not_confirmed"),
            (half.pk, "captured_not_confirmed"),
            (shipped.pk, "committed_not_confirmed"),
        ]
    )
    assert sorted(counted) == sorted(kind for _, kind in mismatches())
    details = ReconciliationMismatch.objects.get(order_id=wrong.pk).details
    assert details["captured"] == "1.00" and details["total"] == str(wrong.total)
    assert ReconciliationMismatch.objects.get(order_id=half.pk).details["captured"] == "18.00"


def test_a_partial_refund_is_no_mismatch_but_one_the_order_missed_is(services, counted):
    """Given a confirmed order of which payment_service refunded 5.00 and told the order
    (payment.refunded), then the reconciliation finds nothing; given one whose 3.00 refund the
    order never heard of, it records ``refund_differs``."""
    payments, reservations = services
    told = confirmed()
    message = envelope(
        "payment.refunded",
        producer="payment",
        order_id=str(told.pk),
        payment_id=str(uuid.uuid4()),
        amount="5.00",
        currency="EUR",
        refunded_amount="5.00",
    )
    on_payment_refunded.apply(args=[message])
    told = settled(told)
    assert (told.status, told.refunded_amount) == (S.CONFIRMED, Decimal("5.00"))
    paid(payments, told, "PARTIALLY_REFUNDED", refunded="5.00")
    held(reservations, told, "COMMITTED")
    missed = confirmed()
    paid(payments, missed, "PARTIALLY_REFUNDED", refunded="3.00")
    held(reservations, missed, "COMMITTED")

    report = reconcile_orders()

    assert (report.checked, report.new) == (2, 1)
    assert mismatches() == [(missed.pk, "refund_differs")]
    assert counted == ["refund_differs"]
    details = ReconciliationMismatch.objects.get(order_id=missed.pk).details
    assert (details["refunded"], details["payment_refunded"]) == ("0.00", "3.00")


def test_a_resolved_mismatch_found_again_is_recorded_again(services):
    _, reservations = services
    unpaid = confirmed()
    held(reservations, unpaid, "COMMITTED")
    reconcile_orders()
    ReconciliationMismatch.objects.update(resolved_at=timezone.now())

    assert reconcile_orders().new == 1
    assert ReconciliationMismatch.objects.filter(resolved_at__isnull=True).count() == 1


def test_steps_in_flight_are_no_mismatch_within_the_grace_but_are_past_it(services):
    payments, reservations = services
    now = timezone.now()
    committing = OrderFactory(status=S.CONFIRMED, paid_at=now)  # commit not acknowledged
    paid(payments, committing)
    held(reservations, committing, "RESERVED")
    refunding = OrderFactory(status=S.FAILED, paid_at=now, refund_requested_at=now)
    paid(payments, refunding)
    held(reservations, refunding, "RELEASED")
    late = OrderFactory(status=S.FAILED)  # the success not yet told to the order
    paid(payments, late)
    held(reservations, late, "EXPIRED")
    staff_refund = OrderFactory(
        status=S.CONFIRMED, paid_at=now, stock_committed_at=now, refund_requested_at=now
    )
    paid(payments, staff_refund, "REFUNDED", refunded=str(staff_refund.total))
    held(reservations, staff_refund, "COMMITTED")

    assert reconcile_orders().found == []
    assert reconcile_orders(grace=0).new == 4
    assert mismatches() == sorted(
        [
            (committing.pk, "confirmed_not_committed"),
            (refunding.pk, "captured_not_confirmed"),
            (late.pk, "captured_not_confirmed"),
            (staff_refund.pk, "confirmed_not_captured"),
        ]
    )


def test_orders_not_final_or_outside_the_window_are_not_compared(services):
    payments, reservations = services
    waiting = settled(OrderFactory(status=S.PAYMENT_PENDING))
    paid(payments, waiting)
    pending = settled(OrderFactory(status=S.PENDING))
    old = settled(OrderFactory(status=S.CONFIRMED), minutes=3 * 60)

    report = reconcile_orders(window=3600)

    assert report.checked == 0 and mismatches() == []
    assert payments.requests == [] and reservations.requests == []
    assert Order.objects.filter(pk__in=[waiting.pk, pending.pk, old.pk]).count() == 3


def test_orders_are_read_in_batches_of_a_hundred_with_the_service_token(services):
    payments, reservations = services
    orders = [confirmed(with_line=False) for _ in range(150)]
    for order in orders:
        paid(payments, order)
        held(reservations, order, "COMMITTED")

    report = reconcile_orders()

    assert report.checked == 150 and report.found == []
    for stub, path in (
        (payments, "/api/v1/payments/"),
        (reservations, reconciliation.RESERVATIONS_PATH),
    ):
        assert [r["path"] for r in stub.requests] == [path, path]
        assert [len(r["query"]["order_ids"][0].split(",")) for r in stub.requests] == [100, 50]
        assert {r["query"]["page_size"][0] for r in stub.requests} == {"100"}
        assert {r["auth"] for r in stub.requests} == {"Bearer svc-order-token"}
    asked = {i for r in payments.requests for i in r["query"]["order_ids"][0].split(",")}
    assert asked == {str(o.pk) for o in orders}


def test_every_page_of_an_answer_is_read(services):
    payments, reservations = services
    orders = [confirmed(with_line=False) for _ in range(5)]
    for order in orders:
        paid(payments, order)
        held(reservations, order, "COMMITTED")
    payments.page_size = reservations.page_size = 2

    report = reconcile_orders()

    assert report.checked == 5 and report.found == []
    assert len(payments.requests) == 3 and len(reservations.requests) == 3


@pytest.mark.parametrize("down", ["payment", "inventory"])
def test_a_service_that_refuses_fails_the_run_and_records_nothing(services, down):
    payments, reservations = services
    unpaid = confirmed()
    held(reservations, unpaid, "COMMITTED")
    (payments if down == "payment" else reservations).status = 403

    with pytest.raises(UpstreamUnavailable) as caught:
        reconcile_orders()

    assert caught.value.details["upstream"] == down
    assert mismatches() == []
