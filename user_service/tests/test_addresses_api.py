"""``/api/v1/users/me/addresses/``: the caller's address book and its one default address."""

import uuid

import pytest
from django.db import IntegrityError, transaction
from profiles import services
from profiles.models import Address

from platform_tools.testing.api import at_once
from platform_tools.testing.contract import assert_error

from .factories import AddressFactory, ProfileFactory

pytestmark = pytest.mark.django_db

ADDRESSES = "/api/v1/users/me/addresses/"

HOME = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "Flat 3",
    "city": "London",
    "region": "Greater London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7123 4567",
}
WORK = {"name": "Ada at work", "line1": "Unter den Linden 1", "city": "Berlin", "country": "DE"}


def detail(address_id) -> str:
    return f"{ADDRESSES}{address_id}/"


def defaults(profile) -> list[str]:
    return [str(a.id) for a in Address.objects.filter(user=profile, is_default=True)]


def test_create_answers_201_with_the_contract_fields_and_a_location(api, profile):
    response = api.post(ADDRESSES, HOME)

    assert response.status_code == 201, response.content
    body = response.json()
    address = Address.objects.get()
    assert body == {
        "id": str(address.id),
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "line2": "Flat 3",
        "city": "London",
        "region": "Greater London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "phone": "+442071234567",
        "is_default": True,
    }
    assert response["Location"] == f"http://testserver{detail(address.id)}"
    assert address.user_id == profile.user_id


def test_optional_fields_default_to_blank(api):
    body = api.post(ADDRESSES, WORK).json()

    assert (body["line2"], body["region"], body["postal_code"], body["phone"]) == ("", "", "", "")


def test_the_first_address_is_the_default_even_when_not_asked(api, profile):
    body = api.post(ADDRESSES, {**WORK, "is_default": False}).json()

    assert body["is_default"] is True


def test_a_second_address_is_not_the_default_unless_asked(api, profile):
    first = api.post(ADDRESSES, HOME).json()

    second = api.post(ADDRESSES, WORK).json()

    assert second["is_default"] is False
    assert defaults(profile) == [first["id"]]


def test_creating_a_new_default_moves_the_default(api, profile):
    api.post(ADDRESSES, HOME)

    second = api.post(ADDRESSES, {**WORK, "is_default": True}).json()

    assert second["is_default"] is True
    assert defaults(profile) == [second["id"]]


def test_the_list_is_paginated_default_first_then_oldest_first(api, profile):
    home = api.post(ADDRESSES, HOME).json()
    work = api.post(ADDRESSES, WORK).json()
    third = api.post(ADDRESSES, {**WORK, "name": "Third", "is_default": True}).json()
    AddressFactory(user=ProfileFactory())  # another user's

    body = api.get(f"{ADDRESSES}?page_size=2").json()

    assert body["count"] == 3
    assert [a["id"] for a in body["results"]] == [third["id"], home["id"]]
    assert body["next"] == "http://testserver/api/v1/users/me/addresses/?page=2&page_size=2"
    assert body["previous"] is None
    assert [a["id"] for a in api.get(body["next"]).json()["results"]] == [work["id"]]


def test_retrieve_one_address(api, profile):
    created = api.post(ADDRESSES, HOME).json()

    response = api.get(detail(created["id"]))

    assert response.status_code == 200
    assert response.json() == created


def test_patch_changes_only_what_is_sent(api, profile):
    created = api.post(ADDRESSES, HOME).json()

    response = api.patch(detail(created["id"]), {"city": "Oxford", "postal_code": "OX1 1AA"})

    assert response.status_code == 200
    assert response.json() == {**created, "city": "Oxford", "postal_code": "OX1 1AA"}


def test_put_replaces_the_address(api, profile):
    created = api.post(ADDRESSES, HOME).json()
    replacement = {**WORK, "line2": "", "region": "", "postal_code": "10117", "phone": ""}

    response = api.put(detail(created["id"]), replacement)

    assert response.status_code == 200
    assert response.json() == {**replacement, "id": created["id"], "is_default": True}


def test_put_needs_every_required_field(api, profile):
    created = api.post(ADDRESSES, HOME).json()

    body = assert_error(api.put(detail(created["id"]), {"city": "Oxford"}), 400, "validation_error")

    assert body["error"]["details"] == {
        "name": ["This field is required."],
        "line1": ["This field is required."],
        "country": ["This field is required."],
    }


def test_making_another_address_the_default_unsets_the_old_one(api, profile):
    home = api.post(ADDRESSES, HOME).json()
    work = api.post(ADDRESSES, WORK).json()

    response = api.patch(detail(work["id"]), {"is_default": True})

    assert response.json()["is_default"] is True
    assert defaults(profile) == [work["id"]]
    assert api.get(detail(home["id"])).json()["is_default"] is False


def test_the_default_cannot_be_unset_directly(api, profile):
    home = api.post(ADDRESSES, HOME).json()
    api.post(ADDRESSES, WORK)

    body = assert_error(
        api.patch(detail(home["id"]), {"is_default": False}), 400, "validation_error"
    )

    assert body["error"]["details"] == {
        "is_default": [
            "The default address stays the default until another address is made the default."
        ]
    }
    assert defaults(profile) == [home["id"]]


def test_deleting_the_default_promotes_the_oldest_remaining_address(api, profile):
    home = api.post(ADDRESSES, HOME).json()
    work = api.post(ADDRESSES, WORK).json()
    api.post(ADDRESSES, {**WORK, "name": "Third"})

    response = api.delete(detail(home["id"]))

    assert response.status_code == 204
    assert response.content == b""
    assert defaults(profile) == [work["id"]]
    assert_error(api.get(detail(home["id"])), 404, "not_found")


def test_deleting_the_last_address_leaves_none(api, profile):
    home = api.post(ADDRESSES, HOME).json()

    api.delete(detail(home["id"]))

    assert api.get(ADDRESSES).json()["count"] == 0


def test_deleting_another_address_keeps_the_default(api, profile):
    home = api.post(ADDRESSES, HOME).json()
    work = api.post(ADDRESSES, WORK).json()

    api.delete(detail(work["id"]))

    assert defaults(profile) == [home["id"]]


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_another_users_address_is_not_found_and_untouched(api, method):
    theirs = AddressFactory(user=ProfileFactory(), city="Paris", country="FR")

    body = {**WORK, "city": "Nowhere"} if method in ("patch", "put") else None

    response = api.request(method, detail(theirs.id), body)

    assert_error(response, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.city == "Paris"


def test_an_unknown_or_malformed_address_id_is_not_found(api):
    assert_error(api.get(detail(uuid.uuid4())), 404, "not_found")
    assert_error(api.get(f"{ADDRESSES}not-a-uuid/"), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "details"),
    [
        (
            {"country": "de"},
            {"country": ["Enter an ISO 3166-1 alpha-2 country code in capitals, like DE or US."]},
        ),
        (
            {"country": "XX"},
            {"country": ["Enter an ISO 3166-1 alpha-2 country code in capitals, like DE or US."]},
        ),
        ({"country": "DEU"}, {"country": ["Ensure this field has no more than 2 characters."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"line1": "x" * 201}, {"line1": ["Ensure this field has no more than 200 characters."]}),
        ({"is_default": "perhaps"}, {"is_default": ["Must be a valid boolean."]}),
        (
            {"phone": "12345"},
            {
                "phone": [
                    "Enter the number in international format, starting with + and the "
                    "country code."
                ]
            },
        ),
        ({"street": "Main St"}, {"street": ["This field is not recognised."]}),
    ],
    ids=[
        "country-lower-case",
        "country-unassigned",
        "country-alpha3",
        "name-blank",
        "line1-too-long",
        "is-default-not-boolean",
        "phone-national",
        "unknown-field",
    ],
)
def test_bad_input_is_a_validation_error_with_field_details(api, profile, change, details):
    body = assert_error(api.post(ADDRESSES, {**WORK, **change}), 400, "validation_error")

    assert body["error"]["details"] == details
    assert Address.objects.count() == 0


@pytest.mark.parametrize("code", ["GB", "DE", "US", "AX", "SS", "ZW"])
def test_assigned_country_codes_are_accepted(api, code):
    assert api.post(ADDRESSES, {**WORK, "country": code}).status_code == 201


def test_the_address_book_has_a_limit(api, profile, monkeypatch):
    monkeypatch.setattr(services, "ADDRESS_LIMIT", 2)
    api.post(ADDRESSES, HOME)
    api.post(ADDRESSES, WORK)

    body = assert_error(api.post(ADDRESSES, WORK), 409, "conflict")

    assert body["error"]["details"] == {"limit": 2}
    assert Address.objects.count() == 2


def test_without_an_active_profile_the_address_book_is_not_found(api, profile):
    profile.is_active = False
    profile.save()

    assert_error(api.get(ADDRESSES), 404, "not_found")
    assert_error(api.post(ADDRESSES, HOME), 404, "not_found")


def test_the_database_refuses_a_second_default(profile):
    # The constraint is the last line of defence behind the services' rule.
    AddressFactory(user=profile, is_default=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        AddressFactory(user=profile, is_default=True)


def test_the_database_refuses_a_country_that_is_not_two_capitals(profile):
    with pytest.raises(IntegrityError), transaction.atomic():
        AddressFactory(user=profile, country="de")


@pytest.mark.django_db(transaction=True)
def test_concurrent_new_defaults_leave_exactly_one_default():
    # Real concurrent transactions (PostgreSQL in CI): the profile's row lock makes them take
    # turns, so none trips over the one-default constraint and the last one wins.
    profile = ProfileFactory()

    at_once(
        lambda n: services.address_create(
            user_id=profile.user_id, data={**WORK, "name": f"Address {n}", "is_default": True}
        ),
        range(6),
    )

    assert Address.objects.filter(user=profile).count() == 6
    assert Address.objects.filter(user=profile, is_default=True).count() == 1
