"""auth_service's user events, applied through the kit's consumer task (inbox, retries, dead
letters) in this process: ``task.apply`` runs the task eagerly, as a worker would run it."""

import uuid

import pytest
from django.conf import settings
from profiles.handlers import (
    on_user_deactivated,
    on_user_erased,
    on_user_registered,
    on_user_updated,
)
from profiles.models import Address, Profile

from platform_tools.testing.contract import assert_error
from service_kit.models import DeadLetter, ProcessedMessage

from .factories import AddressFactory, ProfileFactory
from .helpers import envelope, png_bytes, upload

pytestmark = pytest.mark.django_db

HANDLED = ["user.registered", "user.updated", "user.deactivated", "user.erased"]


def registered(user_id: uuid.UUID, **data) -> dict:
    data = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", **data}
    return envelope("user.registered", user_id=str(user_id), **data)


def test_the_events_queue_is_bound_to_every_handled_type_and_each_has_its_task():
    from user_service.celery import app

    assert settings.MESSAGING["CONSUMES"] == HANDLED
    assert {f"events.{name}" for name in HANDLED} <= set(app.tasks)
    assert app.tasks["events.user.registered"].queue_name == "user.events"


def test_registered_creates_the_profile():
    user_id = uuid.uuid4()

    result = on_user_registered.apply(args=[registered(user_id)]).get()

    assert result == "applied"
    profile = Profile.objects.get()
    assert (profile.user_id, profile.email, profile.first_name, profile.last_name) == (
        user_id,
        "ada@example.com",
        "Ada",
        "Lovelace",
    )
    assert (profile.phone, profile.preferences, profile.is_active, profile.erased_at) == (
        "",
        {},
        True,
        None,
    )


def test_registered_without_names_gives_blank_names():
    user_id = uuid.uuid4()
    raw = envelope("user.registered", user_id=str(user_id), email="bob@example.com")

    assert on_user_registered.apply(args=[raw]).get() == "applied"

    assert Profile.objects.values_list("email", "first_name", "last_name").get() == (
        "bob@example.com",
        "",
        "",
    )


def test_registered_twice_with_two_message_ids_keeps_the_first_profile_as_it_is():
    user_id = uuid.uuid4()
    first, second = registered(user_id), registered(user_id, email="other@example.com")
    assert first["id"] != second["id"]

    results = [on_user_registered.apply(args=[raw]).get() for raw in (first, second)]

    assert results == ["applied", "applied"]
    assert list(Profile.objects.values_list("user_id", "email")) == [(user_id, "ada@example.com")]
    assert ProcessedMessage.objects.count() == 2


def test_registered_after_the_first_request_merges_into_the_profile_made_from_the_token(
    as_user,
):
    """The user asked first (the profile came from the token's claims) and named themselves;
    the event then fills in only what is still blank, once, and a replay changes nothing."""
    user_id = uuid.uuid4()
    api = as_user(Profile(user_id=user_id, email="ada@example.com"))
    assert api.patch("/api/v1/users/me/", {"last_name": "King"}).status_code == 200

    first, replay = registered(user_id), registered(user_id, first_name="Other", last_name="X")
    assert on_user_registered.apply(args=[first]).get() == "applied"

    profile = Profile.objects.get()
    assert (profile.email, profile.first_name, profile.last_name) == (
        "ada@example.com",
        "Ada",  # from the event: the token carried no name
        "King",  # the user's own, kept
    )
    assert profile.registered_at is not None
    merged_at = profile.registered_at
    assert on_user_registered.apply(args=[replay]).get() == "applied"
    profile.refresh_from_db()
    assert (profile.first_name, profile.last_name, profile.registered_at) == (
        "Ada",
        "King",
        merged_at,
    )
    body = api.get("/api/v1/users/me/").json()
    assert (body["first_name"], body["last_name"]) == ("Ada", "King")


def test_a_token_never_brings_back_an_erased_profile(as_user):
    user_id = uuid.uuid4()
    on_user_erased.apply(args=[envelope("user.erased", user_id=str(user_id))]).get()

    assert_error(
        as_user(Profile(user_id=user_id, email="ada@example.com")).get("/api/v1/users/me/"),
        404,
        "not_found",
    )
    profile = Profile.objects.get()
    assert profile.is_erased and profile.email.endswith("@erased.invalid")


def test_the_same_message_delivered_twice_is_applied_once():
    raw = registered(uuid.uuid4())

    results = [on_user_registered.apply(args=[raw]).get() for _ in range(2)]

    assert results == ["applied", "duplicate"]
    assert Profile.objects.count() == 1


def test_registered_with_a_name_longer_than_the_column_keeps_its_first_150_characters():
    user_id = uuid.uuid4()

    on_user_registered.apply(args=[registered(user_id, first_name="A" * 300)]).get()

    assert Profile.objects.get().first_name == "A" * 150


def test_registered_without_an_email_breaks_the_schema_and_is_dead_lettered():
    raw = envelope("user.registered", user_id=str(uuid.uuid4()), email="ada@example.com")
    del raw["data"]["email"]

    assert on_user_registered.apply(args=[raw]).get() == "invalid"

    assert Profile.objects.count() == 0
    assert DeadLetter.objects.values_list("reason", "task").get() == (
        "invalid",
        "events.user.registered",
    )


def test_updated_follows_the_email_auth_service_changed():
    profile = ProfileFactory(email="old@example.com")

    raw = envelope("user.updated", user_id=str(profile.user_id), email="new@example.com")
    assert on_user_updated.apply(args=[raw]).get() == "applied"

    profile.refresh_from_db()
    assert profile.email == "new@example.com"


def test_updated_never_touches_an_erased_profile():
    profile = ProfileFactory()
    on_user_erased.apply(args=[envelope("user.erased", user_id=str(profile.user_id))]).get()

    raw = envelope("user.updated", user_id=str(profile.user_id), email="new@example.com")
    on_user_updated.apply(args=[raw]).get()

    profile.refresh_from_db()
    assert profile.email == f"erased+{profile.user_id}@erased.invalid"


def test_deactivated_hides_the_profile_from_its_owner(api, profile):
    raw = envelope("user.deactivated", user_id=str(profile.user_id))

    assert on_user_deactivated.apply(args=[raw]).get() == "applied"

    profile.refresh_from_db()
    assert profile.is_active is False
    assert profile.email == "ada@example.com"  # deactivation is not erasure
    assert_error(api.get("/api/v1/users/me/"), 404, "not_found")


@pytest.mark.parametrize(
    ("handler", "event_type", "data"),
    [
        (on_user_deactivated, "user.deactivated", {}),
        (on_user_updated, "user.updated", {"email": "new@example.com"}),
    ],
)
def test_an_event_before_registration_is_retried_then_dead_lettered(
    settings, handler, event_type, data
):
    # Registration has not been applied: the message waits through the kit's retries (and is
    # replayed from the dead letters later) rather than creating a profile without its data.
    settings.MESSAGING = {**settings.MESSAGING, "MAX_RETRIES": 2, "RETRY_BACKOFF": 0.0}
    user_id = uuid.uuid4()

    result = handler.apply(args=[envelope(event_type, user_id=str(user_id), **data)]).get()

    assert result == "dead_letter"
    assert Profile.objects.count() == 0
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.attempts, letter.queue) == ("failed", 3, "user.events")
    assert "ProfileNotFound" in letter.error


def test_erased_anonymises_everything_and_deletes_addresses_and_avatar_files(
    media, api, profile, django_capture_on_commit_callbacks
):
    profile.preferences = {"newsletter": True, "language": "en"}
    profile.save()
    AddressFactory.create_batch(2, user=profile)
    other = AddressFactory()  # another user's address stays
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(api, png_bytes()).status_code == 200
    assert len(media.names()) == 1

    raw = envelope("user.erased", user_id=str(profile.user_id))
    assert on_user_erased.apply(args=[raw]).get() == "applied"

    profile.refresh_from_db()
    assert profile.email == f"erased+{profile.user_id}@erased.invalid"
    assert (profile.first_name, profile.last_name, profile.phone) == ("", "", "")
    assert profile.preferences == {}
    assert profile.avatar.name == ""
    assert profile.is_active is False
    assert profile.erased_at is not None
    assert list(Address.objects.all()) == [other]
    assert media.names() == []


def test_erased_deletes_every_avatar_file_of_the_user_even_one_left_behind(media, profile):
    # A replaced avatar whose deletion failed (storage down after the commit) is still the
    # user's data: erasure deletes the user's whole avatar folder.
    folder = f"avatars/{profile.user_id}"
    media.put(f"{folder}/left-behind.png", png_bytes())
    media.put("avatars/someone-else/a.png", png_bytes())

    on_user_erased.apply(args=[envelope("user.erased", user_id=str(profile.user_id))]).get()

    assert media.names() == ["avatars/someone-else/a.png"]


def test_erased_before_registration_leaves_a_tombstone_a_late_registration_cannot_fill():
    user_id = uuid.uuid4()

    on_user_erased.apply(args=[envelope("user.erased", user_id=str(user_id))]).get()
    on_user_registered.apply(args=[registered(user_id)]).get()

    profile = Profile.objects.get()
    assert (profile.email, profile.first_name, profile.is_active) == (
        f"erased+{user_id}@erased.invalid",
        "",
        False,
    )
    assert profile.erased_at is not None


def test_erased_twice_keeps_the_first_erasure_time():
    profile = ProfileFactory()
    on_user_erased.apply(args=[envelope("user.erased", user_id=str(profile.user_id))]).get()
    first = Profile.objects.get().erased_at

    on_user_erased.apply(args=[envelope("user.erased", user_id=str(profile.user_id))]).get()

    assert Profile.objects.get().erased_at == first


def test_erased_keeps_the_dead_letters_about_the_user_but_not_their_data():
    user_id = uuid.uuid4()
    raw = registered(user_id)
    DeadLetter.objects.create(
        message_id=raw["id"],
        task="events.user.registered",
        queue="user.events",
        envelope=raw,
        reason="failed",
        error="boom",
    )
    unrelated = registered(uuid.uuid4())
    DeadLetter.objects.create(
        message_id=unrelated["id"],
        task="events.user.registered",
        queue="user.events",
        envelope=unrelated,
        reason="failed",
        error="boom",
    )

    on_user_erased.apply(args=[envelope("user.erased", user_id=str(user_id))]).get()

    scrubbed = DeadLetter.objects.get(message_id=raw["id"])
    assert scrubbed.envelope == {**raw, "data": {"user_id": str(user_id)}}
    assert DeadLetter.objects.get(message_id=unrelated["id"]).envelope == unrelated
