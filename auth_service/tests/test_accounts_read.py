"""``GET /api/v1/auth/users/{user_id}/``: any account by id, for support staff and for services
with ``accounts:read`` (user_service making a profile before ``user.registered`` arrives)."""

import uuid

import pytest
from accounts import services
from accounts.models import User

from platform_tools.testing.contract import assert_error

from .factories import CLIENT_SECRET, PASSWORD, ServiceClientFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def path(user_id) -> str:
    return f"/api/v1/auth/users/{user_id}/"


def service_token(api, *scopes: str) -> str:
    ServiceClientFactory(client_id="user", scopes=list(scopes))
    response = api.post(
        "/api/v1/auth/service-token/", {"client_id": "user", "client_secret": CLIENT_SECRET}
    )
    return response.json()["access"]


def test_a_service_with_the_scope_reads_an_account(api):
    user = UserFactory(email="kim@example.com", first_name="Kim", last_name="Lee")

    response = api.get(path(user.id), token=service_token(api, "accounts:read"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(user.id),
        "email": "kim@example.com",
        "first_name": "Kim",
        "last_name": "Lee",
        "is_active": True,
        "erased_at": None,
    }


def test_support_staff_read_an_account(api):
    StaffFactory(email="support@example.com", roles=["support"])
    user = UserFactory()
    access = api.sign_in("support@example.com", PASSWORD)["access"]

    response = api.get(path(user.id), token=access)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.id)


def test_a_deactivated_and_an_erased_account_are_read_with_their_state(api):
    token = service_token(api, "accounts:read")
    deactivated = UserFactory(is_active=False)
    erased = UserFactory(email="gone@example.com")
    services.user_erase(user=erased)

    off = api.get(path(deactivated.id), token=token).json()
    gone = api.get(path(erased.id), token=token).json()

    assert (off["is_active"], off["erased_at"]) == (False, None)
    assert gone["is_active"] is False and gone["erased_at"] is not None
    assert gone["email"] == User.objects.get(pk=erased.id).email != "gone@example.com"
    assert (gone["first_name"], gone["last_name"]) == ("", "")


def test_an_unknown_account_is_not_found(api):
    response = api.get(path(uuid.uuid4()), token=service_token(api, "accounts:read"))

    assert_error(response, 404, "not_found")


def test_a_customer_may_not_read_any_account_not_even_their_own(api):
    user = UserFactory(email="kim@example.com")
    access = api.sign_in("kim@example.com", PASSWORD)["access"]

    assert_error(api.get(path(user.id), token=access), 403, "permission_denied")


def test_a_service_without_the_scope_and_anonymous_are_refused(api):
    user = UserFactory()

    assert_error(
        api.get(path(user.id), token=service_token(api, "users:read")), 403, "permission_denied"
    )
    assert_error(api.get(path(user.id)), 401, "not_authenticated")
