"""Events and commands applied through the kit's consumer tasks (inbox, retries, dead letters) in
this process: ``task.apply`` runs the task eagerly, as a worker would run it."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from stock.handlers import (
    on_commit,
    on_product_created,
    on_product_deleted,
    on_product_updated,
    on_release,
    on_reserve,
)
from stock.models import Reservation, StockItem

from service_kit.models import DeadLetter, ProcessedMessage

from .factories import StockItemFactory
from .helpers import envelope, published

pytestmark = pytest.mark.django_db

PRODUCT_ID = str(uuid.UUID("00000000-0000-4000-8000-000000000001"))
EVENTS = ["product.created", "product.updated", "product.deleted"]
COMMANDS = ["inventory.reserve", "inventory.commit", "inventory.release"]


def product_event(message_type: str, at: datetime | None = None, **data) -> dict:
    raw = envelope(message_type, product_id=PRODUCT_ID, sku="MUG-1", **data)
    if at is not None:
        raw["occurred_at"] = at.isoformat()
    return raw


def created(**data) -> dict:
    data = {"name": "Mug", "price": "9.50", "currency": "EUR", "is_active": True, **data}
    return product_event("product.created", **data)


def test_queues_are_bound_to_the_product_events_and_the_commands_have_their_queues():
    from inventory_service.celery import app

    assert settings.MESSAGING["CONSUMES"] == EVENTS
    assert settings.MESSAGING["COMMANDS"] == ["reserve", "commit", "release"]
    queues = {queue.name: queue for queue in app.conf.task_queues}
    assert set(queues) == {"inventory.tasks", "inventory.events", *COMMANDS}
    assert sorted(
        (b.exchange.name, b.routing_key) for b in queues["inventory.events"].bindings
    ) == sorted(
        [*(("domain_events", e) for e in EVENTS), ("domain_commands", "retry.inventory.events")]
    )
    for name in COMMANDS:
        assert app.tasks[name].queue_name == name
    for name in EVENTS:
        assert app.tasks[f"events.{name}"].queue_name == "inventory.events"


def test_the_expiry_task_is_scheduled_on_the_service_queue_next_to_the_kit_tasks():
    from inventory_service.celery import app

    schedule = app.conf.beat_schedule
    assert {"outbox-sweep", "retention-purge", "reservations-expire"} <= set(schedule)
    entry = schedule["reservations-expire"]
    assert entry["task"] == "stock.reservations_expire"
    assert entry["schedule"] == timedelta(seconds=settings.RESERVATION_EXPIRY_INTERVAL)
    assert entry["options"]["queue"] == "inventory.tasks"
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert "stock.reservations_expire" in app.tasks


# -- the catalogue ---------------------------------------------------------------------------------


def test_product_created_adds_the_sku_with_no_stock():
    assert on_product_created.apply(args=[created()]).get() == "applied"

    item = StockItem.objects.get()
    assert (item.sku, str(item.product_id), item.on_hand, item.reserved, item.is_active) == (
        "MUG-1",
        PRODUCT_ID,
        0,
        0,
        True,
    )


def test_product_created_twice_adds_one_sku_and_the_same_message_is_applied_once():
    first = created()

    results = [on_product_created.apply(args=[raw]).get() for raw in (first, first, created())]

    assert results == ["applied", "duplicate", "applied"]
    assert StockItem.objects.count() == 1
    assert ProcessedMessage.objects.count() == 2


def test_product_created_leaves_existing_stock_alone():
    StockItemFactory(sku="MUG-1", on_hand=40, reserved=2)

    on_product_created.apply(args=[created()]).get()

    item = StockItem.objects.get()
    assert (item.on_hand, item.reserved, str(item.product_id)) == (40, 2, PRODUCT_ID)


def test_an_inactive_product_makes_an_inactive_sku():
    on_product_created.apply(args=[created(is_active=False)]).get()

    assert StockItem.objects.get().is_active is False


@pytest.mark.parametrize(
    ("handler", "message_type", "data", "active"),
    [
        (on_product_updated, "product.updated", {"is_active": False}, False),
        (on_product_updated, "product.updated", {"price": "11.00"}, True),
        (on_product_deleted, "product.deleted", {}, False),
    ],
    ids=["deactivated", "price-only", "deleted"],
)
def test_updates_and_deletion_follow_the_product(handler, message_type, data, active):
    now = datetime.now(UTC)
    on_product_created.apply(args=[created(at=now - timedelta(seconds=5))]).get()

    handler.apply(args=[product_event(message_type, at=now, **data)]).get()

    item = StockItem.objects.get()
    assert item.is_active is active
    assert item.catalogue_synced_at == now


def test_a_reactivated_product_takes_reservations_again():
    now = datetime.now(UTC)
    on_product_created.apply(args=[created(at=now - timedelta(seconds=2))]).get()
    on_product_updated.apply(
        args=[product_event("product.updated", at=now - timedelta(seconds=1), is_active=False)]
    ).get()
    on_product_updated.apply(args=[product_event("product.updated", at=now, is_active=True)]).get()

    assert StockItem.objects.get().deactivated_at is None


def test_an_older_event_arriving_late_changes_nothing():
    now = datetime.now(UTC)
    on_product_deleted.apply(args=[product_event("product.deleted", at=now)]).get()

    stale = product_event("product.updated", at=now - timedelta(seconds=30), is_active=True)
    assert on_product_updated.apply(args=[stale]).get() == "applied"

    item = StockItem.objects.get()
    assert (item.is_active, item.catalogue_synced_at) == (False, now)


def test_an_update_before_its_creation_adds_the_sku():
    on_product_updated.apply(args=[product_event("product.updated", is_active=True)]).get()

    assert list(StockItem.objects.values_list("sku", "on_hand")) == [("MUG-1", 0)]


def test_a_product_event_breaking_its_schema_is_dead_lettered():
    raw = created()
    del raw["data"]["sku"]

    assert on_product_created.apply(args=[raw]).get() == "invalid"

    assert StockItem.objects.count() == 0
    assert list(DeadLetter.objects.values_list("reason", "queue")) == [
        ("invalid", "inventory.events")
    ]


# -- the saga's commands ---------------------------------------------------------------------------


def test_reserve_commit_and_release_through_their_handlers():
    StockItemFactory(sku="MUG-1", on_hand=10, low_stock_threshold=0)
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    lines = [{"sku": "MUG-1", "quantity": 3}]
    later = "2030-01-01T12:00:00+00:00"

    for order_id in (kept, dropped):
        raw = envelope("inventory.reserve", order_id=order_id, lines=lines, expires_at=later)
        assert on_reserve.apply(args=[raw]).get() == "applied"
    assert on_commit.apply(args=[envelope("inventory.commit", order_id=kept)]).get() == "applied"
    release = envelope("inventory.release", order_id=dropped, reason="payment_failed")
    assert on_release.apply(args=[release]).get() == "applied"

    item = StockItem.objects.get()
    assert (item.on_hand, item.reserved) == (7, 0)
    states = dict(Reservation.objects.values_list("order_id", "state"))
    assert states == {uuid.UUID(kept): "COMMITTED", uuid.UUID(dropped): "RELEASED"}
    assert [t for t, _ in published()] == [
        "inventory.reserved",
        "inventory.reserved",
        "inventory.committed",
        "inventory.released",
    ]
    assert Reservation.objects.get(order_id=kept).expires_at == datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("command", ["reserve", "commit", "release"])
def test_a_command_delivered_twice_is_applied_once(command):
    StockItemFactory(sku="MUG-1", on_hand=10, low_stock_threshold=0)
    order_id = str(uuid.uuid4())
    reserve = envelope(
        "inventory.reserve", order_id=order_id, lines=[{"sku": "MUG-1", "quantity": 3}]
    )
    messages = {
        "reserve": (on_reserve, reserve),
        "commit": (on_commit, envelope("inventory.commit", order_id=order_id)),
        "release": (on_release, envelope("inventory.release", order_id=order_id)),
    }
    if command != "reserve":
        on_reserve.apply(args=[reserve]).get()
    handler, raw = messages[command]

    results = [handler.apply(args=[raw]).get() for _ in range(2)]

    assert results == ["applied", "duplicate"]
    item = StockItem.objects.get()
    expected = {"reserve": (10, 3), "commit": (7, 0), "release": (10, 0)}[command]
    assert (item.on_hand, item.reserved) == expected
    # The reserve's answer, then the command's own (the duplicate adds none).
    assert len(published()) == {"reserve": 1, "commit": 2, "release": 2}[command]


def test_a_reserve_for_no_lines_is_refused_as_invalid():
    raw = envelope(
        "inventory.reserve", order_id=str(uuid.uuid4()), lines=[{"sku": "A", "quantity": 1}]
    )
    raw["data"]["lines"] = []

    assert on_reserve.apply(args=[raw]).get() == "invalid"
    assert DeadLetter.objects.get().queue == "inventory.reserve"
