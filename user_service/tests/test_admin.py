"""The profiles admin: search, filter, addresses inline (with the one-default rule kept)."""

import pytest
from profiles.models import Address

from .factories import AddressFactory, ProfileFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/profiles/profile/"


def change_page(profile) -> str:
    return f"{CHANGELIST}{profile.user_id}/change/"


def test_profiles_are_searchable_by_email_and_name(admin_client):
    ada = ProfileFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    ProfileFactory(email="grace@example.com", first_name="Grace", last_name="Hopper")

    for term in ("ada@example", "Lovelace", "ada"):
        response = admin_client.get(CHANGELIST, {"q": term})
        assert list(response.context["cl"].result_list) == [ada], term


def test_profiles_can_be_filtered_by_active(admin_client):
    ProfileFactory(email="active@example.com")
    inactive = ProfileFactory(email="inactive@example.com", is_active=False)

    response = admin_client.get(CHANGELIST, {"is_active__exact": "0"})

    assert list(response.context["cl"].result_list) == [inactive]


def test_profiles_are_neither_added_nor_deleted_here(admin_client):
    profile = ProfileFactory()

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{profile.user_id}/delete/").status_code == 403


def test_the_change_page_shows_the_addresses_inline(admin_client):
    address = AddressFactory(city="Oxford")

    response = admin_client.get(change_page(address.user))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance for form in formset.forms if form.instance.pk] == [address]


def test_deleting_the_default_inline_promotes_another(admin_client):
    profile = ProfileFactory(first_name="Ada", last_name="Lovelace", phone="")
    home = AddressFactory(user=profile)
    work = AddressFactory(user=profile)
    assert (home.is_default, work.is_default) == (True, False)
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "",
        "preferences": "{}",
        "is_active": "on",
        "addresses-TOTAL_FORMS": "2",
        "addresses-INITIAL_FORMS": "2",
        "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000",
    }
    for index, address in enumerate([home, work]):
        prefix = f"addresses-{index}-"
        data.update(
            {
                f"{prefix}id": str(address.id),
                f"{prefix}user": str(profile.user_id),
                f"{prefix}name": address.name,
                f"{prefix}line1": address.line1,
                f"{prefix}city": address.city,
                f"{prefix}postal_code": address.postal_code,
                f"{prefix}country": address.country,
            }
        )
        if address.is_default:
            data[f"{prefix}is_default"] = "on"
    data["addresses-0-DELETE"] = "on"

    response = admin_client.post(change_page(profile), data)

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert list(Address.objects.values_list("id", "is_default")) == [(work.id, True)]
