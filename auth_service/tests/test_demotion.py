"""A change of a person's roles or staff status ends every session and token they hold, whatever
made the change: the admin's user form (its fields and its groups), the group admin, or code.
Every admin and API then sees the new roles at the person's next request (they sign in again).
"""

import jwt
import pytest
from accounts.models import User
from accounts.tokens import roles_of
from django.contrib.auth.models import Group
from django.core.cache import cache

from platform_tools.testing.contract import assert_error
from service_kit.auth import revoked_user_key

from .conftest import change_form
from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
USERS = "/admin/accounts/user/"
GROUPS = "/admin/auth/group/"


@pytest.fixture
def kim(api):
    """A catalogue manager holding a token pair."""
    user = StaffFactory(email="kim@example.com", roles=["catalogue_manager", "support"])
    return user, api.sign_in("kim@example.com", PASSWORD)


def assert_sessions_ended(api, user: User, pair: dict) -> None:
    """Access tokens and (through the same marker) admin sessions end; a refresh gives a token
    with the roles the person has now."""
    assert cache.get(revoked_user_key(str(user.pk))) > issued_at(pair["access"])
    body = assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
    assert body["error"]["details"] == {"reason": "revoked"}
    refreshed = api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status_code == 200, refreshed.content
    access = refreshed.json()["access"]
    assert api.get(ME, token=access).status_code == 200
    user.refresh_from_db()
    assert claims_of(access)["roles"] == roles_of(user)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def issued_at(token: str) -> float:
    return claims_of(token)["iat"]


def group(name: str) -> Group:
    return Group.objects.get(name=name)


@pytest.mark.parametrize(
    "changes",
    [
        {"is_staff": ""},
        {"is_superuser": "on"},
        {"groups": []},
        {"groups": ["catalogue_manager"]},
        {"groups": ["catalogue_manager", "support", "payment_manager"]},
    ],
    ids=["unstaffed", "made-superuser", "all-roles-removed", "one-role-removed", "role-added"],
)
def test_a_change_in_the_admins_user_form_ends_the_sessions(
    api, staff_client, kim, changes, django_capture_on_commit_callbacks
):
    user, pair = kim
    if "groups" in changes:
        changes["groups"] = [group(name).pk for name in changes["groups"]]

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{USERS}{user.pk}/change/", change_form(user, **changes))

    assert response.status_code == 302, response.content[-2000:]
    assert_sessions_ended(api, user, pair)


def revocation_of(user: User):
    """The user's revocation marker (giving Kim her roles, in the fixture, set one already)."""
    return cache.get(revoked_user_key(str(user.pk)))


def test_a_name_change_ends_nothing(api, staff_client, kim, django_capture_on_commit_callbacks):
    user, pair = kim
    marker = revocation_of(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"{USERS}{user.pk}/change/", change_form(user, first_name="Kimberly")
        )

    assert response.status_code == 302
    assert revocation_of(user) == marker
    assert api.get(ME, token=pair["access"]).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        lambda user: user.groups.remove(group("catalogue_manager")),
        lambda user: user.groups.add(group("admin")),
        lambda user: user.groups.clear(),
        lambda user: user.groups.set([group("support")]),
        lambda user: group("catalogue_manager").user_set.remove(user),
        lambda user: group("catalogue_manager").user_set.clear(),
    ],
    ids=["remove", "add", "clear", "set", "reverse-remove", "reverse-clear"],
)
def test_a_change_in_code_ends_the_sessions(api, kim, change, django_capture_on_commit_callbacks):
    user, pair = kim

    with django_capture_on_commit_callbacks(execute=True):
        change(user)

    assert_sessions_ended(api, user, pair)


def test_saving_an_unchanged_user_ends_nothing(api, kim, django_capture_on_commit_callbacks):
    user, pair = kim
    marker = revocation_of(user)

    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get(pk=user.pk).save()
        user.groups.set(list(user.groups.all()))

    assert revocation_of(user) == marker
    assert api.get(ME, token=pair["access"]).status_code == 200


def test_a_bulk_update_of_the_staff_flag_ends_the_sessions(
    api, kim, django_capture_on_commit_callbacks
):
    user, pair = kim

    with django_capture_on_commit_callbacks(execute=True):
        assert User.objects.filter(email="kim@example.com").update(is_staff=False) == 1

    assert_sessions_ended(api, user, pair)


@pytest.mark.parametrize("attribute", ["is_staff", "is_superuser"])
def test_a_staff_flag_changed_in_code_ends_the_sessions(
    api, kim, attribute, django_capture_on_commit_callbacks
):
    user, pair = kim
    setattr(user, attribute, not getattr(user, attribute))

    with django_capture_on_commit_callbacks(execute=True):
        user.save()

    assert_sessions_ended(api, user, pair)


def test_renaming_a_role_group_ends_its_members_sessions(
    api, staff_client, kim, django_capture_on_commit_callbacks
):
    user, pair = kim
    bystander = UserFactory(email="bystander@example.com")
    bystander_pair = api.sign_in("bystander@example.com", PASSWORD)
    role = group("catalogue_manager")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{GROUPS}{role.pk}/change/", {"name": "catalogue"})

    assert response.status_code == 302, response.content[-2000:]
    assert_sessions_ended(api, user, pair)
    assert api.get(ME, token=bystander_pair["access"]).status_code == 200
    assert revocation_of(bystander) is None


def test_deleting_a_role_group_ends_its_members_sessions(
    api, staff_client, kim, django_capture_on_commit_callbacks
):
    user, pair = kim
    role = group("catalogue_manager")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{GROUPS}{role.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content[-2000:]
    assert not Group.objects.filter(name="catalogue_manager").exists()
    assert_sessions_ended(api, user, pair)
