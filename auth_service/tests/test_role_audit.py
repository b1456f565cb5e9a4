"""A role granted or taken away in the admin is a staff action the audit trail keeps: the form
asks why, and each role given or removed is recorded with who, when and why."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from service_kit.models import AuditEntry

from .conftest import change_form
from .factories import UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"


def role(name: str) -> Group:
    return Group.objects.get_or_create(name=name)[0]


def test_a_role_change_without_a_reason_is_refused(staff_client):
    kim = UserFactory(email="kim@example.com")

    response = staff_client.post(
        f"{USERS}{kim.pk}/change/",
        change_form(kim, reason="", is_staff="on", groups=[role("support").pk]),
    )

    assert response.status_code == 200
    assert "Say why" in response.content.decode()
    kim.refresh_from_db()
    assert not kim.is_staff and not kim.groups.exists()
    assert not AuditEntry.objects.exists()


def test_each_role_granted_and_revoked_is_recorded_with_who_and_why(staff_client):
    kim = UserFactory(email="kim@example.com", is_staff=True)
    kim.groups.add(role("support"))

    response = staff_client.post(
        f"{USERS}{kim.pk}/change/",
        change_form(kim, groups=[role("order_manager").pk], reason="moved to the orders team"),
    )

    assert response.status_code == 302, response.content[-2000:]
    entries = {(e.action, e.target): e for e in AuditEntry.objects.all()}
    assert set(entries) == {
        ("role_grant", "kim@example.com: order_manager"),
        ("role_revoke", "kim@example.com: support"),
    }
    grant = entries["role_grant", "kim@example.com: order_manager"]
    assert (grant.actor, grant.reason) == ("root@example.com", "moved to the orders team")
    assert grant.target_url == f"/admin/auth/accounts/user/{kim.pk}/change/"
    assert grant.details == {"user_id": str(kim.pk), "role": "order_manager"}


def test_a_name_change_needs_no_reason_and_is_not_recorded(staff_client):
    kim = UserFactory(email="kim@example.com")

    response = staff_client.post(
        f"{USERS}{kim.pk}/change/", change_form(kim, first_name="Kim", reason="")
    )

    assert response.status_code == 302
    assert not AuditEntry.objects.exists()
