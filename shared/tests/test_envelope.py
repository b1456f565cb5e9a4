"""The envelope and payload schemas, as producers and consumers both use them."""

import uuid
from decimal import Decimal

import pytest

from service_kit.messaging import Envelope, InvalidMessage

NOTE_ID = str(uuid.uuid4())


def test_new_envelope_carries_the_contract_fields():
    envelope = Envelope.new("note.created", {"note_id": uuid.UUID(NOTE_ID), "text": "hi"})
    raw = envelope.as_dict()
    assert set(raw) == {"id", "type", "version", "occurred_at", "producer", "request_id", "data"}
    assert raw["type"] == "note.created" and raw["version"] == 1
    assert raw["producer"] == "notes"
    assert raw["data"] == {"note_id": NOTE_ID, "text": "hi"}  # the UUID travels as a string
    assert Envelope.parse(raw) == envelope


def test_decimals_travel_as_strings():
    from service_kit.messaging.schemas import registry

    registry.register(
        "test.priced",
        {"type": "object", "required": ["price"], "properties": {"price": {"type": "string"}}},
        owner="notes",
    )
    assert Envelope.new("test.priced", {"price": Decimal("12.50")}).data == {"price": "12.50"}


@pytest.mark.parametrize(
    ("type_", "data", "error"),
    [
        ("no.such_type", {}, "unknown message type"),
        ("note.created", {"text": "x"}, "'note_id' is a required property"),
        ("note.created", {"note_id": "not-a-uuid-at-all-not-a-uuid-at-al", "text": "x"}, "uuid"),
        ("note.created", {"note_id": NOTE_ID, "text": 5}, "is not of type 'string'"),
    ],
)
def test_producer_cannot_write_a_message_that_breaks_its_schema(type_, data, error):
    with pytest.raises(InvalidMessage, match=error):
        Envelope.new(type_, data)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"version": 2}, "version 2 is not the known 1"),
        ({"id": None}, "is not of type 'string'"),
        ({"data": []}, "is not of type 'object'"),
    ],
)
def test_consumer_refuses_a_broken_envelope(change, error):
    raw = {**Envelope.new("note.created", {"note_id": NOTE_ID, "text": "x"}).as_dict(), **change}
    with pytest.raises(InvalidMessage, match=error):
        Envelope.parse(raw)


def test_consumer_refuses_what_is_not_an_object():
    with pytest.raises(InvalidMessage, match="not a JSON object"):
        Envelope.parse(["a", "list"])
