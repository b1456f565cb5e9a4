"""The inbox's claim: one row per message and handler, taken without a savepoint."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from service_kit.messaging.consumer import claim
from service_kit.models import ProcessedMessage

pytestmark = pytest.mark.django_db


def test_a_message_is_claimed_once_per_handler_in_one_statement():
    message_id = str(uuid.uuid4())

    with CaptureQueriesContext(connection) as queries:
        assert claim(message_id, "events.note.created") is True
    assert claim(message_id, "events.note.created") is False
    assert claim(message_id, "events.note.other") is True  # another handler applies it too

    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]  # no SAVEPOINT around it
    rows = ProcessedMessage.objects.values_list("message_id", "handler")
    assert sorted(rows) == [
        (uuid.UUID(message_id), "events.note.created"),
        (uuid.UUID(message_id), "events.note.other"),
    ]


def test_a_claim_rolled_back_with_its_handler_leaves_the_message_to_apply():
    message_id = str(uuid.uuid4())

    with pytest.raises(RuntimeError), transaction.atomic():
        assert claim(message_id, "events.note.created") is True
        raise RuntimeError("the handler failed")

    assert claim(message_id, "events.note.created") is True
