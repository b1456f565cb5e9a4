"""``GET|PATCH /api/v1/users/me/``: the caller's own profile."""

import uuid

import pytest
from profiles.models import Profile

from platform_tools.testing.contract import assert_error

from .factories import ProfileFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"


def test_get_me_returns_the_contract_fields(api, profile):
    response = api.get(ME)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(profile.user_id),
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+442071234567",
        "preferences": {},
        "avatar_url": None,
    }


def test_me_is_the_tokens_user_not_anyone_else(as_user, profile):
    other = ProfileFactory(email="grace@example.com")

    body = as_user(other).get(ME).json()

    assert (body["id"], body["email"]) == (str(other.user_id), "grace@example.com")


def test_me_before_user_registered_arrives_is_made_from_the_tokens_claims(as_user):
    """A new user asks before the event (the broker down, the worker behind): no 404."""
    newcomer = Profile(user_id=uuid.uuid4(), email="new@example.com")  # not saved: no event yet
    api = as_user(newcomer)

    response = api.get(ME)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["email"]) == (str(newcomer.user_id), "new@example.com")
    assert (body["first_name"], body["last_name"]) == ("", "")
    profile = Profile.objects.get()
    assert profile.registered_at is None and profile.is_active
    # The user can use it at once: an address, a name.
    assert api.patch(ME, {"first_name": "Nell"}).status_code == 200
    address = {"name": "Nell", "line1": "1 Main St", "city": "Leeds", "country": "GB"}
    assert api.post(f"{ME}addresses/", address).status_code == 201
    assert Profile.objects.count() == 1


@pytest.mark.parametrize("state", ["deactivated", "erased"])
def test_a_deactivated_or_erased_profile_is_not_found_for_its_owner(api, profile, state):
    profile.is_active = False
    if state == "erased":
        from django.utils import timezone

        profile.erased_at = timezone.now()
    profile.save()

    assert_error(api.get(ME), 404, "not_found")
    assert_error(api.patch(ME, {"first_name": "X"}), 404, "not_found")


def test_a_service_token_has_no_me(client, mint):
    response = client.get(ME, **mint.headers(client_id="order", scopes=["users:read"]))

    assert_error(response, 403, "permission_denied")


def test_patch_changes_names_and_phone_and_answers_the_profile(api, profile):
    response = api.patch(
        ME, {"first_name": " Augusta ", "last_name": "King", "phone": "+49 (30) 1234-567"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["first_name"], body["last_name"], body["phone"]) == (
        "Augusta",
        "King",
        "+49301234567",
    )
    profile.refresh_from_db()
    assert (profile.first_name, profile.last_name, profile.phone) == (
        "Augusta",
        "King",
        "+49301234567",
    )


def test_patch_leaves_fields_not_sent_alone(api, profile):
    api.patch(ME, {"last_name": "King"})

    profile.refresh_from_db()
    assert (profile.first_name, profile.last_name, profile.phone) == (
        "Ada",
        "King",
        "+442071234567",
    )


def test_patch_with_blank_phone_clears_it(api, profile):
    assert api.patch(ME, {"phone": ""}).json()["phone"] == ""


def test_preferences_are_merged_and_null_removes_a_key(api, profile):
    profile.preferences = {"newsletter": True, "language": "en", "theme": "dark"}
    profile.save()

    response = api.patch(ME, {"preferences": {"language": "de", "theme": None, "currency": "EUR"}})

    assert response.json()["preferences"] == {
        "newsletter": True,
        "language": "de",
        "currency": "EUR",
    }
    profile.refresh_from_db()
    assert profile.preferences == {"newsletter": True, "language": "de", "currency": "EUR"}


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"email": "new@example.com"},
            {
                "email": [
                    "The email address belongs to the account in auth_service; it cannot be "
                    "changed here."
                ]
            },
        ),
        ({"nickname": "ada"}, {"nickname": ["This field is not recognised."]}),
        (
            {"first_name": "A" * 151},
            {"first_name": ["Ensure this field has no more than 150 characters."]},
        ),
        ({"first_name": None}, {"first_name": ["This field may not be null."]}),
        ({"last_name": 42 * [1]}, {"last_name": ["Not a valid string."]}),
        (
            {"phone": "0301234567"},
            {
                "phone": [
                    "Enter the number in international format, starting with + and the "
                    "country code."
                ]
            },
        ),
        (
            {"phone": "+49 30 abc"},
            {
                "phone": [
                    "Enter the number in international format, starting with + and the "
                    "country code."
                ]
            },
        ),
        (
            {"preferences": ["newsletter"]},
            {"preferences": ['Expected a dictionary of items but got type "list".']},
        ),
        (
            {"preferences": {"x" * 65: True}},
            {"preferences": ["Preference names have 1 to 64 characters."]},
        ),
        (
            {"preferences": {f"key{n}": n for n in range(51)}},
            {"preferences": ["At most 50 preferences can be kept."]},
        ),
        (
            {"preferences": {"blob": "x" * 9000}},
            {"preferences": ["Preferences may take at most 8192 bytes."]},
        ),
        (
            ["first_name"],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
    ],
    ids=[
        "email",
        "unknown-field",
        "name-too-long",
        "name-null",
        "name-not-a-string",
        "phone-national",
        "phone-letters",
        "preferences-list",
        "preference-name-too-long",
        "too-many-preferences",
        "preferences-too-large",
        "body-a-list",
    ],
)
def test_patch_refuses_bad_input_with_field_details_and_changes_nothing(
    api, profile, body, details
):
    response = api.patch(ME, body)

    error = assert_error(response, 400, "validation_error")
    assert error["error"]["details"] == details
    assert error["error"]["message"] == "The request is not valid."
    profile.refresh_from_db()
    assert (profile.email, profile.first_name, profile.preferences) == (
        "ada@example.com",
        "Ada",
        {},
    )


def test_read_only_fields_sent_back_are_ignored(api, profile):
    response = api.patch(
        ME, {"id": str(uuid.uuid4()), "avatar_url": "http://evil.example/x.png", "last_name": "K"}
    )

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["avatar_url"]) == (str(profile.user_id), None)


def test_put_on_me_is_not_allowed(api):
    assert_error(api.put(ME, {"first_name": "A"}), 405, "method_not_allowed")
