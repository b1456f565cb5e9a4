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
        ({"version": 2}, "major 2 is unknown here"),
        ({"version": "2.0"}, "major 2 is unknown here"),
        ({"version": "1"}, "is not valid under any of the given schemas"),
        ({"version": 0}, "is not valid under any of the given schemas"),
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


def test_a_consumer_reads_every_minor_of_its_major_and_the_integer_of_the_release_before():
    raw = Envelope.new("note.created", {"note_id": NOTE_ID, "text": "x"}).as_dict()
    for version in (1, "1.0", "1.7"):
        # A newer minor's unknown field is ignored.
        message = {**raw, "version": version, "data": {**raw["data"], "mood": "happy"}}
        assert Envelope.parse(message).major == 1


def test_an_unknown_major_is_its_own_error():
    from service_kit.messaging.envelope import UnknownVersion

    raw = Envelope.new("note.created", {"note_id": NOTE_ID, "text": "x"}).as_dict()
    with pytest.raises(UnknownVersion, match=r"major 3 is unknown here \(known: 1\)"):
        Envelope.parse({**raw, "version": "3.1"})


def test_emitted_version_is_the_integer_major_during_the_transition_then_major_minor(settings):
    from service_kit.messaging.schemas import registry

    registry.register("test.counted", {"type": "object"}, owner="notes", version="1.4")
    assert Envelope.new("test.counted", {}).version == 1  # what the release before compares
    settings.MESSAGING = {**settings.MESSAGING, "VERSION_FORMAT": "minor"}
    assert Envelope.new("test.counted", {}).version == "1.4"


def test_an_older_minor_gets_the_defaults_of_the_optional_fields_it_lacks():
    from service_kit.messaging.schemas import registry

    registry.register(
        "test.defaulted",
        {
            "type": "object",
            "required": ["sku"],
            "properties": {
                "sku": {"type": "string"},
                "unit": {"type": "string", "default": "each"},
            },
        },
        owner="notes",
        version="1.1",
    )
    raw = {**Envelope.new("test.defaulted", {"sku": "A"}).as_dict(), "version": "1.0"}
    assert Envelope.parse(raw).data == {"sku": "A", "unit": "each"}
    assert Envelope.parse({**raw, "data": {"sku": "A", "unit": "kg"}}).data["unit"] == "kg"


def test_a_producer_emits_two_majors_side_by_side():
    from service_kit.messaging.schemas import registry

    schema_v1 = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    schema_v2 = {
        "type": "object",
        "required": ["first"],
        "properties": {"first": {"type": "string"}},
    }
    registry.register("test.renamed", schema_v1, owner="notes", version="1.0")
    registry.register("test.renamed", schema_v2, owner="notes", version="2.0")
    old = Envelope.new("test.renamed", {"name": "Ada"}, major=1)
    new = Envelope.new("test.renamed", {"first": "Ada"})  # the latest major
    assert (old.major, new.major) == (1, 2) and old.id != new.id
    with pytest.raises(InvalidMessage, match="'first' is a required property"):
        Envelope.new("test.renamed", {"name": "Ada"})
    assert Envelope.parse(old.as_dict()).data == {"name": "Ada"}


def test_every_service_contract_file_is_loaded_from_its_owner_folder():
    from service_kit.conf import REPO_ROOT
    from service_kit.messaging.schemas import contract_files, registry

    files = contract_files(REPO_ROOT)
    assert len(files) >= 26
    for path in files:
        name = path.name.split(".v")[0]
        assert path.parents[2].name == f"{registry[name].owner}_service"
    assert registry["payment.charge"].senders == ("order",)
