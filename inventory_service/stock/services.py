"""Writes: stock following the catalogue, reservations for the order saga, staff adjustments.

Never oversold, on PostgreSQL and SQLite alike: every change of ``on_hand`` or ``reserved`` is
one conditional ``UPDATE`` whose ``WHERE`` says what must still be true (``on_hand >= reserved +
q``) and whose ``SET`` computes from the row's own columns (``F()``), and the number of rows it
changed says whether it happened. There is no read-modify-write to race with, and the database's
CHECK constraint (``0 <= reserved <= on_hand``) stands behind it. Rows are always changed in SKU
order, so two orders over the same SKUs lock them in the same order and never deadlock.

The saga's commands (``inventory.reserve``, ``commit``, ``release``) are idempotent on the order id:
the order's one :class:`Reservation` tells whether a command was already carried out. A replay
changes no stock and announces the outcome again (so a saga that resends a stuck step gets its
answer); the kit's inbox already drops a redelivered message with the same id.

Answers and ``stock.low`` go through the outbox in the same transaction as the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from service_kit.audit import audit_record
from service_kit.console import admin_href
from service_kit.messaging import publish_event

from . import catalogue, metrics
from .errors import BelowReserved, InvalidInput, StockInconsistent, StockItemNotFound
from .models import Adjustment, Reservation, StockItem

logger = logging.getLogger(__name__)

State = Reservation.State

#: A PostgreSQL ``integer`` column's largest value: ``on_hand`` never goes above it.
MAX_UNITS = 2_147_483_647
#: The most units one line (or one adjustment) may move: keeps ``reserved + q`` inside an integer.
MAX_QUANTITY = 1_000_000

#: ``inventory.rejected`` reasons: a reserve short of stock, or a commit refused.
REASON_INSUFFICIENT = "insufficient_stock"
REASON_NOT_RESERVED = "not_reserved"
#: ``inventory.released`` reasons of our own (a release command may give its own).
REASON_EXPIRED = "expired"
REASON_RELEASED = "released"


# -- the catalogue: SKUs follow product_service's events -------------------------------------------


def stock_item_follow_catalogue(
    *,
    sku: str,
    product_id: UUID,
    occurred_at: datetime,
    is_active: bool | None = None,
) -> StockItem:
    """Apply a ``product.created/updated/deleted`` event: the SKU exists here, with no stock at
    first, and is active as its product is (``is_active=None``: unchanged).

    Idempotent, and safe against events that arrive out of order (retries, dead-letter replays):
    an event older than the last one applied changes nothing. Stock is never touched here.
    """
    with transaction.atomic():
        item, created = StockItem.objects.select_for_update().get_or_create(
            sku=sku,
            defaults={
                "product_id": product_id,
                "deactivated_at": None if is_active in (None, True) else occurred_at,
                "catalogue_synced_at": occurred_at,
            },
        )
        if created:
            logger.info("stock.sku_added", extra={"sku": sku, "product_id": str(product_id)})
            return item
        if item.catalogue_synced_at and occurred_at < item.catalogue_synced_at:
            logger.info("stock.catalogue_event_stale", extra={"sku": sku})
            return item
        item.product_id = product_id
        item.catalogue_synced_at = occurred_at
        if is_active:
            item.deactivated_at = None
        elif is_active is False and item.deactivated_at is None:
            item.deactivated_at = occurred_at
        item.save(
            update_fields=["product_id", "catalogue_synced_at", "deactivated_at", "updated_at"]
        )
    logger.info("stock.catalogue_synced", extra={"sku": sku, "is_active": item.is_active})
    return item


def stock_item_get(*, sku: str) -> StockItem:
    """The SKU's stock item, from the first request: one the catalogue has but whose
    ``product.created`` has not been applied here yet (the broker down, the worker behind) is
    made now from product_service's answer, with no stock (its value before the event anyway).

    The event merges into it later like any catalogue event (:func:`stock_item_follow_catalogue`):
    the item remembers the product's ``updated_at`` as its last applied change, so the event of
    that change or any later one applies (the same values again, or newer ones), and an older
    one changes nothing. A request and the event at the same moment make one row: the SKU is the
    primary key, and each side takes the other's row when it loses the insert.

    An unknown, inactive or deleted product: :class:`StockItemNotFound` (404 ``not_found``);
    product_service not answering: the kit's ``UpstreamUnavailable`` (503) or ``UpstreamTimeout``
    (504).
    """
    item = StockItem.objects.filter(sku=sku).first()
    if item is not None:
        return item
    product = catalogue.product_by_sku(sku)
    if product is None:
        raise StockItemNotFound()
    with transaction.atomic():
        item, created = StockItem.objects.get_or_create(
            sku=sku,
            defaults={"product_id": product.id, "catalogue_synced_at": product.updated_at},
        )
    if created:
        logger.info(
            "stock.sku_added_from_catalogue", extra={"sku": sku, "product_id": str(product.id)}
        )
    return item


# -- the saga's commands ---------------------------------------------------------------------------


def reservation_reserve(
    *,
    order_id: UUID,
    lines: Iterable[Mapping[str, Any]],
    expires_at: datetime | None = None,
) -> Reservation:
    """``inventory.reserve``: hold every line of the order, or none of them.

    Answers ``inventory.reserved`` (with the expiry: the command's ``expires_at`` or now +
    ``RESERVATION_TTL``) or ``inventory.rejected`` with every short line (``available`` as seen
    then; 0 for an unknown or inactive SKU). Announces ``stock.low`` for each SKU whose available
    units this reservation took below its threshold.
    """
    wanted = _merge(lines)
    if expires_at is None:
        expires_at = timezone.now() + timedelta(seconds=settings.RESERVATION_TTL)
    with transaction.atomic():
        claim = Reservation(
            order_id=order_id,
            state=State.RESERVED,
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in wanted.items()],
            expires_at=expires_at,
        )
        # Claim the order id first: a concurrent delivery for the same order waits here on the
        # unique index, then finds the winner's reservation and changes nothing.
        Reservation.objects.bulk_create([claim], ignore_conflicts=True)
        reservation = Reservation.objects.select_for_update().get(order_id=order_id)
        if reservation.pk != claim.pk:
            logger.info("reservation.replayed", extra=_log(reservation, command="reserve"))
            _announce_outcome(reservation)
            return reservation
        short = _hold(wanted)
        if short:
            reservation.state = State.REJECTED
            reservation.short = short
            reservation.reason = REASON_INSUFFICIENT
            reservation.expires_at = None
            reservation.save(update_fields=["state", "short", "reason", "expires_at", "updated_at"])
        _announce_outcome(reservation)
        if not short:
            _announce_low_stock(wanted)
        metrics.count(reservation.state)
    event = "reservation.rejected" if short else "reservation.reserved"
    logger.info(event, extra=_log(reservation))
    return reservation


def reservation_commit(*, order_id: UUID) -> Reservation | None:
    """``inventory.commit``: the reserved units leave stock (``on_hand`` and ``reserved`` both
    go down by them) → ``inventory.committed``.

    Refused with ``inventory.rejected`` (``short: []``) when nothing is held any more: ``reason``
    ``released`` or ``expired`` (a reservation past its expiry is expired right here, even before
    the periodic task gets to it), ``insufficient_stock`` (it was never held) or ``not_reserved``
    (no reservation for the order at all). The saga refunds on that answer.
    """
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
        if reservation is None:
            publish_event(
                "inventory.rejected",
                {"order_id": order_id, "short": [], "reason": REASON_NOT_RESERVED},
            )
            metrics.count("refused")
            logger.warning("reservation.commit_refused", extra={"order_id": str(order_id)})
            return None
        expires_at = reservation.expires_at  # set while reserved
        if reservation.state == State.RESERVED and expires_at and expires_at <= timezone.now():
            _expire(reservation)
        if reservation.state == State.RESERVED:
            for sku, quantity in _lines(reservation):
                taken = StockItem.objects.filter(
                    sku=sku, reserved__gte=quantity, on_hand__gte=quantity
                ).update(
                    on_hand=F("on_hand") - quantity,
                    reserved=F("reserved") - quantity,
                    updated_at=timezone.now(),
                )
                if taken != 1:
                    raise StockInconsistent(f"{sku}: {quantity} reserved units are not there")
            reservation.state = State.COMMITTED
            reservation.save(update_fields=["state", "updated_at"])
            metrics.count(reservation.state)
            logger.info("reservation.committed", extra=_log(reservation))
            publish_event(
                "inventory.committed",
                {"order_id": order_id, "reservation_id": reservation.pk},
            )
        elif reservation.state == State.COMMITTED:
            logger.info("reservation.replayed", extra=_log(reservation, command="commit"))
            publish_event(
                "inventory.committed",
                {"order_id": order_id, "reservation_id": reservation.pk},
            )
        else:
            reason = {
                State.RELEASED: REASON_RELEASED,
                State.EXPIRED: REASON_EXPIRED,
                State.REJECTED: REASON_INSUFFICIENT,
            }[State(reservation.state)]
            metrics.count("refused")
            logger.warning("reservation.commit_refused", extra=_log(reservation))
            publish_event(
                "inventory.rejected", {"order_id": order_id, "short": [], "reason": reason}
            )
    return reservation


def reservation_release(*, order_id: UUID, reason: str = "") -> Reservation:
    """``inventory.release``: the held units go back to available → ``inventory.released``.

    A release that comes before its reserve (the saga gave up while the reserve was still
    queued: the two commands travel on different queues) leaves a RELEASED reservation with no
    lines, so the late reserve holds nothing. A committed reservation is not released: its units
    have left (returns come back by a restock adjustment); a rejected one held nothing. Neither
    answers.
    """
    reason = (reason or REASON_RELEASED)[:200]
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().filter(order_id=order_id).first()
        if reservation is None:
            tombstone = Reservation(
                order_id=order_id, state=State.RELEASED, lines=[], reason=reason
            )
            Reservation.objects.bulk_create([tombstone], ignore_conflicts=True)
            reservation = Reservation.objects.select_for_update().get(order_id=order_id)
            if reservation.pk == tombstone.pk:
                logger.info("reservation.released_before_reserve", extra=_log(reservation))
                _announce_outcome(reservation)
                return reservation
        if reservation.state == State.RESERVED:
            _unhold(reservation)
            reservation.state = State.RELEASED
            reservation.reason = reason
            reservation.save(update_fields=["state", "reason", "updated_at"])
            metrics.count(reservation.state)
            logger.info("reservation.released", extra=_log(reservation))
            _announce_outcome(reservation)
        elif reservation.state in (State.RELEASED, State.EXPIRED):
            logger.info("reservation.replayed", extra=_log(reservation, command="release"))
            _announce_outcome(reservation)
        else:
            logger.warning("reservation.release_refused", extra=_log(reservation))
    return reservation


# -- expiry ----------------------------------------------------------------------------------------


def reservations_expire_due(*, limit: int | None = None) -> int:
    """Release every held reservation past its expiry (the periodic task); returns how many.

    Each in its own short transaction, so one stuck row never holds the others back."""
    limit = limit or settings.RESERVATION_EXPIRY_BATCH
    due = (
        Reservation.objects.filter(state=State.RESERVED, expires_at__lte=timezone.now())
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = sum(reservation_expire(reservation_id=pk) for pk in list(due))
    if expired:
        logger.info("reservations.expired", extra={"count": expired})
    return expired


def reservation_expire(*, reservation_id: UUID) -> bool:
    """Release one reservation if it is still held and past its expiry
    (→ ``inventory.released`` with reason ``expired``); whether it did."""
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update()
            .filter(pk=reservation_id, state=State.RESERVED, expires_at__lte=timezone.now())
            .first()
        )
        if reservation is None:  # committed, released or extended meanwhile
            return False
        _expire(reservation)
    return True


def _expire(reservation: Reservation) -> None:
    _unhold(reservation)
    reservation.state = State.EXPIRED
    reservation.reason = REASON_EXPIRED
    reservation.save(update_fields=["state", "reason", "updated_at"])
    metrics.count(reservation.state)
    logger.info("reservation.expired", extra=_log(reservation))
    _announce_outcome(reservation)


# -- staff adjustments -----------------------------------------------------------------------------


def stock_adjust(
    *,
    sku: str,
    kind: str,
    quantity: int,
    reason: str,
    actor_id: UUID | None = None,
    actor_email: str = "",
) -> Adjustment:
    """Change ``on_hand`` and record who, why and when.

    ``restock`` adds ``quantity`` (≥ 1), ``damage`` removes it (≥ 1), ``correction`` adds a
    signed, non-zero ``quantity``. On hand never goes below what is reserved: such a change is
    refused with :class:`BelowReserved` (409 ``conflict``) and changes nothing.
    """
    delta = adjustment_delta(kind=kind, quantity=quantity)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(details={"reason": ["Say why the stock changes."]})
    now = timezone.now()
    with transaction.atomic():
        rows = StockItem.objects.filter(sku=sku)
        if delta > 0:
            changed = rows.filter(on_hand__lte=MAX_UNITS - delta).update(
                on_hand=F("on_hand") + delta, updated_at=now
            )
        else:
            changed = rows.filter(on_hand__gte=F("reserved") - delta).update(
                on_hand=F("on_hand") + delta, updated_at=now
            )
        item = StockItem.objects.filter(sku=sku).first()  # locked by the update when it changed
        if item is None:
            raise StockItemNotFound()
        if not changed:
            if delta > 0:
                raise InvalidInput(details={"quantity": [f"On hand cannot go above {MAX_UNITS}."]})
            raise BelowReserved(
                f"Only {item.available} of {item.on_hand} units on hand are not reserved.",
                details={
                    "on_hand": item.on_hand,
                    "reserved": item.reserved,
                    "available": item.available,
                },
            )
        adjustment = Adjustment.objects.create(
            stock_item=item,
            kind=kind,
            quantity=quantity,
            delta=delta,
            on_hand_after=item.on_hand,
            reason=reason[:500],
            actor_id=actor_id,
            actor_email=actor_email[:254],
        )
        audit_record(
            actor=actor_email or str(actor_id or ""),
            action=kind,
            target=f"SKU {sku}",
            target_url=admin_href("inventory", "stock", "stockitem", sku),
            reason=reason,
            details={"quantity": quantity, "delta": delta, "on_hand_after": item.on_hand},
        )
        if delta < 0:
            _announce_low_stock({sku: -delta})
    logger.info(
        "stock.adjusted",
        extra={"sku": sku, "kind": kind, "delta": delta, "actor": actor_email or str(actor_id)},
    )
    return adjustment


def adjustment_delta(*, kind: str, quantity: int) -> int:
    """The change of ``on_hand`` an adjustment makes (raises InvalidInput for a bad one)."""
    if kind not in Adjustment.Kind.values:
        raise InvalidInput(
            details={"kind": [f"Choose one of {', '.join(Adjustment.Kind.values)}."]}
        )
    if abs(quantity) > MAX_QUANTITY:
        raise InvalidInput(details={"quantity": [f"At most {MAX_QUANTITY} units at once."]})
    if kind == Adjustment.Kind.CORRECTION:
        if quantity == 0:
            raise InvalidInput(details={"quantity": ["A correction changes stock: not 0."]})
        return quantity
    if quantity < 1:
        raise InvalidInput(details={"quantity": [f"A {kind} is a positive quantity."]})
    return quantity if kind == Adjustment.Kind.RESTOCK else -quantity


# -- holding and letting go ------------------------------------------------------------------------


def _merge(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The order's lines, one per SKU (quantities added up), in SKU order (the lock order)."""
    merged: dict[str, int] = {}
    for line in lines:
        merged[line["sku"]] = merged.get(line["sku"], 0) + int(line["quantity"])
    if not merged:
        raise InvalidInput(details={"lines": ["An order reserves at least one line."]})
    if any(quantity < 1 for quantity in merged.values()):
        raise InvalidInput(details={"lines": ["Quantities are positive."]})
    return dict(sorted(merged.items()))


def _lines(reservation: Reservation) -> list[tuple[str, int]]:
    return sorted((line["sku"], line["quantity"]) for line in reservation.lines)


def _hold(wanted: Mapping[str, int]) -> list[dict[str, Any]]:
    """Reserve every line in one savepoint; if any is short, undo them all and return the short
    lines (every one of them, not just the first)."""
    failed: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            for sku, quantity in wanted.items():
                held = quantity <= MAX_QUANTITY and StockItem.objects.filter(
                    sku=sku,
                    deactivated_at__isnull=True,
                    on_hand__gte=F("reserved") + quantity,
                ).update(reserved=F("reserved") + quantity, updated_at=now)
                if not held:
                    failed.append(sku)
            if failed:
                raise _Short
    except _Short:
        return _short_lines({sku: wanted[sku] for sku in failed})
    return []


class _Short(Exception):
    """Rolls the savepoint of a reservation back."""


def _short_lines(short: Mapping[str, int]) -> list[dict[str, Any]]:
    seen = {
        sku: (on_hand - reserved if deactivated_at is None else 0)
        for sku, on_hand, reserved, deactivated_at in StockItem.objects.filter(
            sku__in=short
        ).values_list("sku", "on_hand", "reserved", "deactivated_at")
    }
    # Read after the refused update: another order may have let units go since. The line was
    # short when it was tried, so it shows at most one unit less than it asked for.
    return [
        {
            "sku": sku,
            "requested": quantity,
            "available": max(0, min(seen.get(sku, 0), quantity - 1)),
        }
        for sku, quantity in short.items()
    ]


def _unhold(reservation: Reservation) -> None:
    now = timezone.now()
    for sku, quantity in _lines(reservation):
        let_go = StockItem.objects.filter(sku=sku, reserved__gte=quantity).update(
            reserved=F("reserved") - quantity, updated_at=now
        )
        if let_go != 1:
            raise StockInconsistent(f"{sku}: {quantity} reserved units are not there")


# -- announcements ---------------------------------------------------------------------------------


def _announce_outcome(reservation: Reservation) -> None:
    """The answer to the saga for the reservation's state (first time or replay)."""
    order_id, reservation_id = reservation.order_id, reservation.pk
    if reservation.state in (State.RESERVED, State.COMMITTED):
        publish_event(
            "inventory.reserved",
            {
                "order_id": order_id,
                "reservation_id": reservation_id,
                "lines": reservation.lines,
                "expires_at": reservation.expires_at,
            },
        )
    elif reservation.state == State.REJECTED:
        publish_event(
            "inventory.rejected",
            {"order_id": order_id, "short": reservation.short, "reason": reservation.reason},
        )
    else:
        publish_event(
            "inventory.released",
            {"order_id": order_id, "reservation_id": reservation_id, "reason": reservation.reason},
        )


def _announce_low_stock(taken: Mapping[str, int]) -> None:
    """``stock.low`` for each SKU this change took from at least its threshold to below it.

    Read right after the change, in its transaction: the rows are still locked by the update,
    so "before" is exactly "after" plus what was taken."""
    rows = StockItem.objects.filter(sku__in=taken).values_list(
        "sku", "on_hand", "reserved", "low_stock_threshold"
    )
    for sku, on_hand, reserved, threshold in rows:
        after = on_hand - reserved
        if after < threshold <= after + taken[sku]:
            publish_event("stock.low", {"sku": sku, "available": after, "threshold": threshold})
            logger.info("stock.low", extra={"sku": sku, "available": after})


def _log(reservation: Reservation, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": str(reservation.order_id),
        "reservation_id": str(reservation.pk),
        "state": reservation.state,
        **extra,
    }
