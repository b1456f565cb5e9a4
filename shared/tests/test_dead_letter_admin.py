"""The dead-letter admin: operators see the letters and replay them onto their queue."""

import json
import uuid

import pytest
from django.conf import settings
from kombu import Connection, Queue

from service_kit.models import DeadLetter

pytestmark = pytest.mark.django_db


@pytest.fixture
def letter():
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "note.created",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "producer": "test",
        "request_id": "req-dl-1",
        "data": {"note_id": str(uuid.uuid4()), "text": "x"},
    }
    return DeadLetter.objects.create(
        message_id=envelope["id"],
        task="events.note.created",
        queue="notes.events",
        envelope=envelope,
        reason=DeadLetter.Reason.FAILED,
        error="RuntimeError: boom",
        attempts=4,
    )


def test_letters_are_listed_and_searchable(admin_client, letter):
    page = admin_client.get("/admin/service_kit/deadletter/", {"q": letter.message_id})
    assert page.status_code == 200
    assert letter.message_id in page.content.decode()
    assert admin_client.get("/admin/service_kit/deadletter/add/").status_code == 403


def test_replay_action_puts_the_message_back_on_its_queue(admin_client, letter):
    from service_kit.messaging import get_celery_app

    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        for queue in get_celery_app().conf.task_queues:  # as the service's worker does at start
            queue(conn.default_channel).declare()
    response = admin_client.post(
        "/admin/service_kit/deadletter/",
        {"action": "replay_selected", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Replayed 1 message(s)." in response.content.decode()
    letter.refresh_from_db()
    assert letter.replay_count == 1 and letter.replayed_at is not None

    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        message = Queue("notes.events", channel=conn.default_channel).get(no_ack=True)
    assert message is not None
    assert message.headers["task"] == "events.note.created"
    assert json.loads(message.body)[0][0] == letter.envelope


def test_letters_waiting_for_an_operator_are_a_gauge_until_replayed(client, letter):
    """``DeadLetters`` alerts on this gauge: it keeps firing until someone replays the letters."""

    def waiting() -> str:
        body = client.get("/metrics").content.decode()
        return [line for line in body.splitlines() if line.startswith("messaging_dead_letters_")]

    assert 'messaging_dead_letters_waiting{task="events.note.created"} 1.0' in waiting()

    DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=letter.created_at)
    assert not [line for line in waiting() if "_waiting{" in line]
