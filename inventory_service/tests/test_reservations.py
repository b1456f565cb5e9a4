"""The saga's commands as services: reserve, commit, release, expiry, and what each announces."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError
from django.test import override_settings
from django.utils import timezone
from stock import services
from stock.models import Reservation, StockItem
from stock.tasks import reservations_expire

from .factories import StockItemFactory
from .helpers import clear_outbox, published

pytestmark = pytest.mark.django_db

LATER = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER_TEXT = "2030-01-01T12:00:00Z"


def stock(sku: str) -> tuple[int, int]:
    item = StockItem.objects.get(sku=sku)
    return item.on_hand, item.reserved


def reserve(order_id, *lines, expires_at=LATER) -> Reservation:
    return services.reservation_reserve(
        order_id=order_id,
        lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        expires_at=expires_at,
    )


@pytest.fixture
def mugs():
    return StockItemFactory(sku="MUG", on_hand=10, low_stock_threshold=0)


@pytest.fixture
def tees():
    return StockItemFactory(sku="TEE", on_hand=3, low_stock_threshold=0)


# -- reserve ---------------------------------------------------------------------------------------


def test_reserve_holds_every_line_and_answers_reserved(mugs, tees):
    order_id = uuid.uuid4()

    reservation = reserve(order_id, ("TEE", 2), ("MUG", 4))

    assert (stock("MUG"), stock("TEE")) == ((10, 4), (3, 2))
    assert (reservation.state, reservation.order_id, reservation.expires_at) == (
        "RESERVED",
        order_id,
        LATER,
    )
    lines = [{"sku": "MUG", "quantity": 4}, {"sku": "TEE", "quantity": 2}]  # in SKU order
    assert reservation.lines == lines
    assert published() == [
        (
            "inventory.reserved",
            {
                "order_id": str(order_id),
                "reservation_id": str(reservation.pk),
                "lines": lines,
                "expires_at": LATER_TEXT,
            },
        )
    ]


def test_lines_of_one_sku_are_held_together(mugs):
    reservation = reserve(uuid.uuid4(), ("MUG", 4), ("MUG", 5))

    assert reservation.lines == [{"sku": "MUG", "quantity": 9}]
    assert stock("MUG") == (10, 9)


@override_settings(RESERVATION_TTL=600)
def test_without_an_expiry_the_reservation_lives_reservation_ttl(mugs):
    before = timezone.now()

    reservation = services.reservation_reserve(
        order_id=uuid.uuid4(), lines=[{"sku": "MUG", "quantity": 1}]
    )

    assert before + timedelta(seconds=600) <= reservation.expires_at
    assert reservation.expires_at <= timezone.now() + timedelta(seconds=600)


def test_one_short_line_reserves_nothing_and_names_every_short_line(mugs, tees):
    StockItemFactory(sku="CAP", on_hand=5, reserved=4)
    order_id = uuid.uuid4()

    reservation = reserve(order_id, ("MUG", 2), ("TEE", 4), ("CAP", 3), ("GHOST", 1))

    assert (stock("MUG"), stock("TEE"), stock("CAP")) == ((10, 0), (3, 0), (5, 4))
    short = [
        {"sku": "CAP", "requested": 3, "available": 1},
        {"sku": "GHOST", "requested": 1, "available": 0},
        {"sku": "TEE", "requested": 4, "available": 3},
    ]
    assert (reservation.state, reservation.short, reservation.expires_at) == (
        "REJECTED",
        short,
        None,
    )
    assert published() == [
        (
            "inventory.rejected",
            {"order_id": str(order_id), "short": short, "reason": "insufficient_stock"},
        )
    ]


def test_an_inactive_sku_takes_no_reservation_and_shows_nothing_available():
    StockItemFactory(sku="OLD", on_hand=10, deactivated_at=timezone.now())

    reservation = reserve(uuid.uuid4(), ("OLD", 1))

    assert reservation.short == [{"sku": "OLD", "requested": 1, "available": 0}]
    assert stock("OLD") == (10, 0)


def test_exactly_what_is_available_can_be_reserved_and_one_more_cannot(tees):
    first = reserve(uuid.uuid4(), ("TEE", 3))
    second = reserve(uuid.uuid4(), ("TEE", 1))

    assert (first.state, second.state) == ("RESERVED", "REJECTED")
    assert second.short == [{"sku": "TEE", "requested": 1, "available": 0}]
    assert stock("TEE") == (3, 3)


def test_a_line_above_the_per_line_limit_is_short_not_an_error(mugs):
    reservation = reserve(uuid.uuid4(), ("MUG", services.MAX_QUANTITY + 1))

    assert reservation.short == [
        {"sku": "MUG", "requested": services.MAX_QUANTITY + 1, "available": 10}
    ]
    assert stock("MUG") == (10, 0)


@pytest.mark.parametrize(
    "first_outcome",
    ["reserved", "rejected"],
)
def test_a_replayed_reserve_changes_stock_once_and_answers_the_same(mugs, first_outcome):
    order_id = uuid.uuid4()
    quantity = 4 if first_outcome == "reserved" else 11
    first = reserve(order_id, ("MUG", quantity))
    answer = published()

    again = reserve(order_id, ("MUG", quantity))
    other_lines = reserve(order_id, ("MUG", 1))  # the order's reservation decides, not the body

    assert again.pk == other_lines.pk == first.pk
    assert stock("MUG") == ((10, 4) if first_outcome == "reserved" else (10, 0))
    assert Reservation.objects.count() == 1
    assert published() == answer * 3


def test_the_database_refuses_two_reservations_for_one_order(mugs):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 1))

    with pytest.raises(IntegrityError):
        Reservation.objects.create(order_id=order_id, state="RESERVED", lines=[])


# -- commit ----------------------------------------------------------------------------------------


def test_commit_takes_the_reserved_units_out_of_stock(mugs, tees):
    order_id = uuid.uuid4()
    reservation = reserve(order_id, ("MUG", 4), ("TEE", 1))
    clear_outbox()

    services.reservation_commit(order_id=order_id)

    assert (stock("MUG"), stock("TEE")) == ((6, 0), (2, 0))
    reservation.refresh_from_db()
    assert reservation.state == "COMMITTED"
    assert published() == [
        (
            "inventory.committed",
            {"order_id": str(order_id), "reservation_id": str(reservation.pk)},
        )
    ]


def test_a_replayed_commit_changes_stock_once(mugs):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 4))
    clear_outbox()

    for _ in range(3):
        services.reservation_commit(order_id=order_id)

    assert stock("MUG") == (6, 0)
    assert [t for t, _ in published()] == ["inventory.committed"] * 3


def test_a_commit_after_release_is_refused_and_says_so(mugs):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 4))
    services.reservation_release(order_id=order_id, reason="payment_failed")
    clear_outbox()

    reservation = services.reservation_commit(order_id=order_id)

    assert reservation.state == "RELEASED"
    assert stock("MUG") == (10, 0)
    assert published() == [
        ("inventory.rejected", {"order_id": str(order_id), "short": [], "reason": "released"})
    ]


def test_a_commit_past_the_expiry_expires_the_reservation_and_is_refused(mugs):
    order_id = uuid.uuid4()
    reservation = reserve(order_id, ("MUG", 4), expires_at=timezone.now() - timedelta(seconds=1))
    clear_outbox()

    services.reservation_commit(order_id=order_id)

    reservation.refresh_from_db()
    assert (reservation.state, reservation.reason) == ("EXPIRED", "expired")
    assert stock("MUG") == (10, 0)
    assert published() == [
        (
            "inventory.released",
            {
                "order_id": str(order_id),
                "reservation_id": str(reservation.pk),
                "reason": "expired",
            },
        ),
        ("inventory.rejected", {"order_id": str(order_id), "short": [], "reason": "expired"}),
    ]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [("rejected", "insufficient_stock"), ("none", "not_reserved")],
)
def test_a_commit_of_nothing_held_is_refused(mugs, setup, reason):
    order_id = uuid.uuid4()
    if setup == "rejected":
        reserve(order_id, ("MUG", 11))
    clear_outbox()

    services.reservation_commit(order_id=order_id)

    assert stock("MUG") == (10, 0)
    assert published() == [
        ("inventory.rejected", {"order_id": str(order_id), "short": [], "reason": reason})
    ]


# -- release ---------------------------------------------------------------------------------------


def test_release_gives_the_units_back_and_a_replay_changes_stock_once(mugs, tees):
    order_id = uuid.uuid4()
    reservation = reserve(order_id, ("MUG", 4), ("TEE", 3))
    clear_outbox()

    for _ in range(2):
        services.reservation_release(order_id=order_id, reason="payment_failed")

    assert (stock("MUG"), stock("TEE")) == ((10, 0), (3, 0))
    reservation.refresh_from_db()
    assert (reservation.state, reservation.reason) == ("RELEASED", "payment_failed")
    released = (
        "inventory.released",
        {
            "order_id": str(order_id),
            "reservation_id": str(reservation.pk),
            "reason": "payment_failed",
        },
    )
    assert published() == [released, released]


def test_release_without_a_reason_says_released(mugs):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 1))

    assert services.reservation_release(order_id=order_id).reason == "released"


def test_a_release_before_its_reserve_makes_the_late_reserve_hold_nothing(mugs):
    order_id = uuid.uuid4()

    tombstone = services.reservation_release(order_id=order_id, reason="deadline")
    late = reserve(order_id, ("MUG", 4))

    assert late.pk == tombstone.pk
    assert (late.state, late.lines) == ("RELEASED", [])
    assert stock("MUG") == (10, 0)
    released = (
        "inventory.released",
        {"order_id": str(order_id), "reservation_id": str(tombstone.pk), "reason": "deadline"},
    )
    assert published() == [released, released]


@pytest.mark.parametrize("state", ["committed", "rejected"])
def test_a_committed_or_rejected_reservation_is_not_released(mugs, state):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 4 if state == "committed" else 11))
    if state == "committed":
        services.reservation_commit(order_id=order_id)
    clear_outbox()

    reservation = services.reservation_release(order_id=order_id)

    assert reservation.state == state.upper()
    assert stock("MUG") == ((6, 0) if state == "committed" else (10, 0))
    assert published() == []


# -- expiry ----------------------------------------------------------------------------------------


def test_the_periodic_task_releases_expired_reservations_only(mugs):
    now = timezone.now()
    expired = reserve(uuid.uuid4(), ("MUG", 2), expires_at=now - timedelta(seconds=1))
    live = reserve(uuid.uuid4(), ("MUG", 3), expires_at=now + timedelta(minutes=5))
    clear_outbox()

    assert reservations_expire.apply().get() == 1
    assert reservations_expire.apply().get() == 0

    expired.refresh_from_db()
    live.refresh_from_db()
    assert (expired.state, expired.reason, live.state) == ("EXPIRED", "expired", "RESERVED")
    assert stock("MUG") == (10, 3)
    assert published() == [
        (
            "inventory.released",
            {
                "order_id": str(expired.order_id),
                "reservation_id": str(expired.pk),
                "reason": "expired",
            },
        )
    ]


def test_an_expired_reservation_released_again_by_the_saga_changes_nothing(mugs):
    order_id = uuid.uuid4()
    reserve(order_id, ("MUG", 2), expires_at=timezone.now() - timedelta(seconds=1))
    services.reservations_expire_due()

    reservation = services.reservation_release(order_id=order_id, reason="deadline")

    assert (reservation.state, reservation.reason) == ("EXPIRED", "expired")
    assert stock("MUG") == (10, 0)


def test_the_expiry_runs_in_batches(mugs):
    past = timezone.now() - timedelta(seconds=1)
    for _ in range(3):
        reserve(uuid.uuid4(), ("MUG", 1), expires_at=past)

    assert services.reservations_expire_due(limit=2) == 2
    assert services.reservations_expire_due(limit=2) == 1
    assert stock("MUG") == (10, 0)


# -- stock.low -------------------------------------------------------------------------------------


def test_stock_low_is_announced_on_the_crossing_only():
    StockItemFactory(sku="PEN", on_hand=10, low_stock_threshold=5)

    reserve(uuid.uuid4(), ("PEN", 4))  # available 6: not low
    reserve(uuid.uuid4(), ("PEN", 2))  # 4: crossed
    reserve(uuid.uuid4(), ("PEN", 1))  # 3: still low, no second event

    assert published("stock.low") == [("stock.low", {"sku": "PEN", "available": 4, "threshold": 5})]


def test_stock_low_again_after_stock_came_back_above_the_threshold():
    StockItemFactory(sku="PEN", on_hand=10, low_stock_threshold=5)
    first = uuid.uuid4()
    reserve(first, ("PEN", 6))
    services.reservation_release(order_id=first)
    reserve(uuid.uuid4(), ("PEN", 10))

    assert published("stock.low") == [
        ("stock.low", {"sku": "PEN", "available": 4, "threshold": 5}),
        ("stock.low", {"sku": "PEN", "available": 0, "threshold": 5}),
    ]


def test_a_rejected_reservation_announces_no_low_stock():
    StockItemFactory(sku="PEN", on_hand=10, low_stock_threshold=5)
    StockItemFactory(sku="INK", on_hand=0)

    reserve(uuid.uuid4(), ("PEN", 8), ("INK", 1))

    assert published("stock.low") == []
