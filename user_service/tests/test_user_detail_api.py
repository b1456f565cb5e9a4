"""``GET /api/v1/users/{user_id}/``: any profile, for support staff and for services."""

import uuid

import pytest
from django.utils import timezone

from platform_tools.testing.contract import assert_error

from .factories import AddressFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def path(user_id) -> str:
    return f"/api/v1/users/{user_id}/"


STAFF = {"is_staff": True}


@pytest.mark.parametrize(
    "claims",
    [
        {**STAFF, "roles": ["support"]},
        {**STAFF, "roles": ["admin"]},
        {**STAFF, "roles": ["order_manager", "support"]},
        {"client_id": "order", "scopes": ["users:read"]},
        {"client_id": "order", "scopes": ["users:read", "payments:charge"]},
    ],
    ids=["support", "admin", "several-roles", "service", "service-more-scopes"],
)
def test_support_staff_and_services_with_the_scope_read_any_profile(client, mint, claims):
    profile = ProfileFactory(email="ada@example.com", phone="+442071234567")
    address = AddressFactory(user=profile)

    response = client.get(path(profile.user_id), **mint.headers(**claims))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "id": str(profile.user_id),
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+442071234567",
        "preferences": {},
        "avatar_url": None,
        "is_active": True,
        "erased_at": None,
        "addresses": [
            {
                "id": str(address.id),
                "name": "Ada Lovelace",
                "line1": address.line1,
                "line2": "",
                "city": "Berlin",
                "region": "",
                "postal_code": "10115",
                "country": "DE",
                "phone": "",
                "is_default": True,
            }
        ],
        "created_at": profile.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": profile.updated_at.isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["customer"]},
        {"roles": ["support"]},  # a role without the staff flag
        {**STAFF, "roles": []},  # the staff flag without a role
        {**STAFF, "roles": ["catalogue_manager"]},  # a staff role that does not read users
        {"client_id": "order", "scopes": []},
        {"client_id": "order", "scopes": ["users:write"]},
    ],
    ids=[
        "customer",
        "support-without-staff-flag",
        "staff-without-role",
        "other-staff-role",
        "service-without-scope",
        "service-other-scope",
    ],
)
def test_everyone_else_is_denied(client, mint, claims):
    profile = ProfileFactory()

    response = client.get(path(profile.user_id), **mint.headers(**claims))

    assert_error(response, 403, "permission_denied")


def test_a_customer_is_denied_even_their_own_profile_by_id(client, mint):
    # Customers use me/; the id route is for staff and services only.
    profile = ProfileFactory()

    response = client.get(path(profile.user_id), **mint.headers(user_id=str(profile.user_id)))

    assert_error(response, 403, "permission_denied")


def test_without_a_token_it_is_401(client):
    assert_error(client.get(path(uuid.uuid4())), 401, "not_authenticated")


def test_an_unknown_user_is_not_found(client, mint):
    response = client.get(path(uuid.uuid4()), **mint.headers(is_staff=True, roles=["support"]))

    body = assert_error(response, 404, "not_found")
    assert body["error"]["message"] == "No profile exists for this user."


def test_staff_see_deactivated_and_erased_profiles(client, mint):
    erased_at = timezone.now()
    profile = ProfileFactory(is_active=False, erased_at=erased_at)

    body = client.get(
        path(profile.user_id), **mint.headers(is_staff=True, roles=["support"])
    ).json()

    assert (body["is_active"], body["erased_at"]) == (
        False,
        erased_at.isoformat().replace("+00:00", "Z"),
    )


def test_support_cannot_write_through_the_id_route(client, mint):
    profile = ProfileFactory()

    response = client.patch(
        path(profile.user_id),
        data='{"first_name": "X"}',
        content_type="application/json",
        **mint.headers(is_staff=True, roles=["support"]),
    )

    assert_error(response, 405, "method_not_allowed")
