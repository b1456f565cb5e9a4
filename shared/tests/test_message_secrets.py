"""A card token travels to its consumer and nowhere else: the published outbox row, dead letters
and every admin page that shows an envelope keep it redacted (on PostgreSQL and RabbitMQ)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from kombu import Connection, Queue
from notes.handlers import on_note_created

from service_kit.messaging import Envelope, send_command, sweep
from service_kit.models import DeadLetter, OutboxMessage
from service_kit.redaction import REDACTED, redacted

pytestmark = pytest.mark.django_db

TOKEN = "tok_visa_4242_secret"


def charge_data() -> dict:
    return {
        "order_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "amount": "12.50",
        "currency": "EUR",
        "payment_token": TOKEN,
    }


def charge_envelope() -> dict:
    return Envelope.new("payment.charge", charge_data()).as_dict()


def take(queue: str):
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        return Queue(queue, channel=conn.default_channel).get(no_ack=True)


def test_redacted_hides_secret_fields_at_any_depth_and_nothing_else():
    value = {
        "payment_token": TOKEN,
        "amount": "12.50",
        "nested": [{"reset_token": "r"}, {"password": "p", "token_type": "access"}],
        "client_secret": "",
    }

    assert redacted(value) == {
        "payment_token": REDACTED,
        "amount": "12.50",
        "nested": [{"reset_token": REDACTED}, {"password": REDACTED, "token_type": "access"}],
        "client_secret": "",
    }
    assert value["payment_token"] == TOKEN  # a copy


def test_a_published_charge_leaves_no_token_in_its_outbox_row():
    """Given a ``payment.charge`` in the outbox, when it is published, then the broker's message
    carries the token (payment_service needs it) and the row kept for days does not."""
    data = charge_data()
    row = send_command("payment.charge", data)
    assert OutboxMessage.objects.get(pk=row.pk).envelope["data"]["payment_token"] == TOKEN

    assert sweep(older_than=0) == 1

    row.refresh_from_db()
    assert row.published_at is not None
    assert row.envelope["data"] == {**data, "payment_token": REDACTED}
    message = take("payment.charge")
    assert message is not None
    assert json.loads(message.body)[0][0]["data"]["payment_token"] == TOKEN
    # Only the body carries it: Celery's argsrepr header (logged by the worker) is a label.
    assert TOKEN not in json.dumps(message.headers, default=str)
    assert message.headers["argsrepr"] == "[<payment.charge envelope>]"


def test_a_dead_letter_keeps_no_token():
    """A message refused into dead letters (here: it breaks its schema) is stored redacted."""
    raw = Envelope.new("note.created", {"note_id": str(uuid.uuid4()), "text": "x"}).as_dict()
    raw["data"] = {"text": "x", "payment_token": TOKEN}  # no note_id: invalid

    assert on_note_created.apply(args=[raw]).get() == "invalid"

    letter = DeadLetter.objects.get()
    assert letter.envelope["data"] == {"text": "x", "payment_token": REDACTED}
    assert TOKEN not in json.dumps(letter.envelope)


def test_the_outbox_and_dead_letter_admins_show_no_token(admin_client):
    """Rows written before this release (or a charge not yet published) still hold the token:
    the admins show every envelope through the kit's redaction."""
    pending = send_command("payment.charge", charge_data())
    letter = DeadLetter.objects.create(
        message_id=str(uuid.uuid4()),
        task="payment.charge",
        queue="payment.charge",
        envelope=charge_envelope(),
        reason=DeadLetter.Reason.FAILED,
        error="RuntimeError: boom",
        attempts=4,
    )

    pages = [
        admin_client.get(f"/admin/service_kit/outboxmessage/{pending.pk}/change/"),
        admin_client.get(f"/admin/service_kit/deadletter/{letter.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert TOKEN not in body
        assert f"&quot;payment_token&quot;: &quot;{REDACTED}&quot;" in body


def test_a_redacted_letter_is_not_replayed_with_its_token_missing(admin_client):
    """Replaying a charge without its card token would decline it: the action refuses and says
    who can send it again."""
    letter = DeadLetter.objects.create(
        message_id=str(uuid.uuid4()),
        task="payment.charge",
        queue="payment.charge",
        envelope=redacted(charge_envelope()),
        reason=DeadLetter.Reason.FAILED,
        error="RuntimeError: boom",
        attempts=4,
    )

    response = admin_client.post(
        "/admin/service_kit/deadletter/",
        {"action": "replay_selected", "_selected_action": [letter.pk]},
        follow=True,
    )

    body = response.content.decode()
    assert "cannot be replayed" in body and "Replayed 0 message(s)." in body
    letter.refresh_from_db()
    assert (letter.replay_count, letter.replayed_at) == (0, None)
    assert take("payment.charge") is None


@pytest.mark.django_db(transaction=True)
def test_the_relay_sends_a_fresh_row_unread_and_reads_an_old_one_first():
    """The relay is handed the committed rows: one younger than half the sweep's age is sent
    without reading it again; an older one is read first, and skipped when the sweep published
    it meanwhile (here both are marked published behind the relay's back)."""
    from datetime import timedelta

    from django.utils import timezone

    from service_kit.messaging.outbox import relay

    fresh, old = (send_command("payment.charge", charge_data()) for _ in range(2))
    relay.flush()
    while take("payment.charge") is not None:  # the two sends of their commits
        pass
    swept = timezone.now()
    OutboxMessage.objects.update(published_at=swept)
    old.created_at = swept - timedelta(seconds=settings.MESSAGING["OUTBOX_SWEEP_AGE"])

    relay.submit(fresh)
    relay.submit(old)
    relay.flush()

    message = take("payment.charge")
    assert message is not None and json.loads(message.body)[0][0]["id"] == str(fresh.pk)
    assert take("payment.charge") is None  # the old one: the sweep had sent it
    # Published once only: the relay's UPDATE skips rows already published.
    assert set(OutboxMessage.objects.values_list("published_at", flat=True)) == {swept}
