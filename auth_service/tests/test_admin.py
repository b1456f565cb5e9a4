import re

import pytest
from accounts.models import ServiceClient, User
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group, Permission

from platform_tools.testing.contract import assert_error

from .conftest import change_form
from .factories import (
    CLIENT_SECRET,
    PASSWORD,
    ServiceClientFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me/"
USERS = "/admin/accounts/user/"
CLIENTS = "/admin/accounts/serviceclient/"


def test_every_staff_role_has_a_group():
    assert sorted(Group.objects.values_list("name", flat=True)) == [
        "admin",
        "catalogue_manager",
        "inventory_manager",
        "order_manager",
        "payment_manager",
        "support",
    ]


@pytest.mark.parametrize(
    "path",
    [
        USERS,
        f"{USERS}?q=lovelace",
        f"{USERS}?is_staff__exact=1&is_active__exact=1",
        f"{USERS}add/",
        CLIENTS,
        f"{CLIENTS}add/",
        "/admin/keys/signingkey/",
    ],
)
def test_admin_pages_render(staff_client, path):
    UserFactory()
    assert staff_client.get(path).status_code == 200


def test_users_are_searched_by_email_and_name(staff_client):
    UserFactory(email="grace@example.com", first_name="Grace", last_name="Hopper")
    UserFactory(email="alan@example.com", first_name="Alan", last_name="Turing")
    UserFactory(email="edsger@example.com", first_name="Edsger", last_name="Dijkstra")

    found = {
        query: staff_client.get(USERS, {"q": query}).context["cl"].result_count
        for query in ("hopper", "ALAN@", "Edsger")
    }
    assert found == {"hopper": 1, "ALAN@": 1, "Edsger": 1}


def test_users_are_filtered_by_group(staff_client):
    StaffFactory(email="sam@example.com", roles=["support"])
    UserFactory(email="cus@example.com")
    support = Group.objects.get(name="support")

    result = staff_client.get(USERS, {"groups__id__exact": support.pk}).context["cl"].result_list

    assert [user.email for user in result] == ["sam@example.com"]


def test_adding_a_user_announces_it(staff_client, outbox):
    response = staff_client.post(
        f"{USERS}add/",
        {
            "email": "New.Staff@Example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.staff@example.com")
    assert user.check_password(PASSWORD)
    assert outbox("user.registered") == [
        {
            "user_id": str(user.id),
            "email": "new.staff@example.com",
            "first_name": "",
            "last_name": "",
        }
    ]


def test_adding_a_taken_email_in_another_case_is_refused(staff_client):
    UserFactory(email="kim@example.com")
    response = staff_client.post(
        f"{USERS}add/",
        {
            "email": "KIM@example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An account with this email address already exists."]
    }


def test_changing_email_or_names_announces_it(staff_client, outbox):
    user = UserFactory(email="kim@example.com", first_name="Kim", last_name="Lee")

    response = staff_client.post(
        f"{USERS}{user.pk}/change/",
        change_form(user, email="Kim.Lee@Example.com", last_name="Park"),
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.email, user.last_name) == ("kim.lee@example.com", "Park")
    assert outbox("user.updated") == [
        {
            "user_id": str(user.id),
            "email": "kim.lee@example.com",
            "first_name": "Kim",
            "last_name": "Park",
        }
    ]
    assert outbox("user.deactivated") == []


def test_other_changes_are_not_announced(staff_client, outbox):
    user = UserFactory(email="kim@example.com")
    support = Group.objects.get(name="support")

    staff_client.post(
        f"{USERS}{user.pk}/change/", change_form(user, is_staff="on", groups=[support.pk])
    )

    user.refresh_from_db()
    assert user.is_staff and list(user.groups.all()) == [support]
    assert outbox("user.updated") == []


def test_unticking_active_deactivates(api, staff_client, outbox):
    user = UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)

    response = staff_client.post(f"{USERS}{user.pk}/change/", change_form(user, is_active=""))

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert outbox("user.deactivated") == [{"user_id": str(user.id)}]
    assert outbox("user.updated") == []
    assert [token.revoked_at is not None for token in user.refresh_tokens.all()] == [True]
    body = assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")
    assert body["error"]["details"] == {"reason": "revoked"}
    assert_error(
        api.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}),
        401,
        "token_not_valid",
    )


def test_the_deactivate_action(api, staff_client, outbox):
    kim = UserFactory(email="kim@example.com")
    lee = UserFactory(email="lee@example.com")
    gone = UserFactory(email="gone@example.com", is_active=False)
    UserFactory(email="keep@example.com")
    kim_pair = api.sign_in("kim@example.com", PASSWORD)
    keep_pair = api.sign_in("keep@example.com", PASSWORD)

    response = staff_client.post(
        USERS, {"action": "deactivate", "_selected_action": [kim.pk, lee.pk, gone.pk]}
    )

    assert response.status_code == 302
    assert sorted(User.objects.filter(is_active=False).values_list("email", flat=True)) == [
        "gone@example.com",
        "kim@example.com",
        "lee@example.com",
    ]
    assert sorted(e["user_id"] for e in outbox("user.deactivated")) == sorted(
        [str(kim.id), str(lee.id)]
    )
    assert_error(api.get(ME, token=kim_pair["access"]), 401, "token_not_valid")
    assert api.get(ME, token=keep_pair["access"]).status_code == 200


def test_the_deactivate_action_spares_the_one_using_it(staff_client):
    me = User.objects.get(email="root@example.com")
    staff_client.post(USERS, {"action": "deactivate", "_selected_action": [me.pk]})
    me.refresh_from_db()
    assert me.is_active


def test_setting_a_password_in_the_admin_ends_the_sessions(api, staff_client):
    user = UserFactory(email="kim@example.com")
    pair = api.sign_in("kim@example.com", PASSWORD)

    response = staff_client.post(
        f"{USERS}{user.pk}/password/",
        {
            "password1": "Staff-Chosen-Passphrase-5",
            "password2": "Staff-Chosen-Passphrase-5",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Staff-Chosen-Passphrase-5")
    assert_error(api.get(ME, token=pair["access"]), 401, "token_not_valid")


def test_an_erased_account_is_read_only(api, staff_client):
    user = UserFactory(email="kim@example.com")
    api.delete(ME, {"password": PASSWORD}, token=api.sign_in("kim@example.com", PASSWORD)["access"])

    page = staff_client.get(f"{USERS}{user.pk}/change/")

    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    assert f"erased+{user.pk.hex}@invalid" in page.content.decode()


# -- service clients ---------------------------------------------------------------------------


def secret_on(page) -> str:
    match = re.search(r"<code>([A-Za-z0-9_-]{20,})</code>", page.content.decode())
    assert match, page.content.decode()
    return match.group(1)


def test_adding_a_client_shows_its_secret_once(api, staff_client):
    response = staff_client.post(
        f"{CLIENTS}add/",
        {
            "client_id": "order_service",
            "scopes": "payments:charge  inventory:reserve",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_on(response)
    client = ServiceClient.objects.get(client_id="order_service")
    assert client.scopes == ["inventory:reserve", "payments:charge"]
    assert check_password(secret, client.secret_hash)
    change_page = staff_client.get(f"{CLIENTS}{client.pk}/change/").content.decode()
    assert secret not in change_page and client.secret_hash not in change_page
    assert "inventory:reserve payments:charge" in change_page
    token = api.post(
        "/api/v1/auth/service-token/", {"client_id": "order_service", "client_secret": secret}
    )
    assert token.status_code == 200


def test_a_malformed_scope_is_refused(staff_client):
    response = staff_client.post(
        f"{CLIENTS}add/", {"client_id": "order_service", "scopes": "Payments Charge!"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "scopes": ["Not a valid scope: Charge!, Payments (e.g. payments:charge)."]
    }
    assert not ServiceClient.objects.exists()


def test_resetting_a_secret(api, staff_client):
    client = ServiceClientFactory(client_id="order_service")

    response = staff_client.post(
        CLIENTS, {"action": "reset_secret", "_selected_action": [client.pk]}
    )

    assert response.status_code == 200
    secret = secret_on(response)
    client.refresh_from_db()
    assert check_password(secret, client.secret_hash)
    assert not check_password(CLIENT_SECRET, client.secret_hash)


def test_view_only_staff_cannot_deactivate(client):
    viewer = StaffFactory(email="support@example.com", roles=["support"])
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)
    kim = UserFactory(email="kim@example.com")

    assert client.get(USERS).status_code == 200
    client.post(USERS, {"action": "deactivate", "_selected_action": [kim.pk]})

    kim.refresh_from_db()
    assert kim.is_active
