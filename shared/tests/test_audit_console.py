"""The audit trail (one kit model and helper for every service) and the console API each service
answers for the staff front page: its figures and its recent staff actions."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from service_kit.api import InvalidInput
from service_kit.audit import audit_record
from service_kit.console import Figure
from service_kit.models import AuditEntry, DeadLetter

pytestmark = pytest.mark.django_db

FIGURES, ACTIVITY = "/api/v1/console/figures/", "/api/v1/console/activity/"


def record(actor="ann@example.com", **kwargs):
    values = {
        "action": "refund",
        "target": "payment p1",
        "target_url": "/admin/payments/payments/payment/p1/change/",
        "reason": "  customer returned the lamp  ",
        "details": {"amount": "5.00"},
    }
    return audit_record(actor=actor, **{**values, **kwargs})


def test_an_action_is_recorded_with_who_when_what_and_why():
    entry = record()

    entry.refresh_from_db()
    assert (entry.actor, entry.action, entry.target) == ("ann@example.com", "refund", "payment p1")
    assert entry.reason == "customer returned the lamp"
    assert entry.at is not None and entry.details == {"amount": "5.00"}


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_no_action_without_a_reason(reason):
    with pytest.raises(InvalidInput) as refused:
        record(reason=reason)
    assert list(refused.value.details) == ["reason"]
    assert not AuditEntry.objects.exists()


def test_an_entry_is_never_changed_nor_deleted():
    entry = record()

    entry.reason = "something else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.update(reason="x")
    assert AuditEntry.objects.get().reason == "customer returned the lamp"


def test_the_admin_shows_entries_and_refuses_every_change_even_to_a_superuser(admin_client):
    entry = record()
    base = "/admin/service_kit/auditentry/"

    listing = admin_client.get(base)
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "ann@example.com" in page and "customer returned the lamp" in page
    assert '<a href="/admin/payments/payments/payment/p1/change/">payment p1</a>' in page
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.get(f"{base}{entry.pk}/delete/").status_code == 403
    changed = admin_client.post(f"{base}{entry.pk}/change/", {"reason": "edited"})
    assert changed.status_code == 403
    bulk = admin_client.post(
        base, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert AuditEntry.objects.get().reason == "customer returned the lamp"
    assert get_user_model().objects.get(username="admin").is_superuser


def notes_figures():
    return [Figure("notes", "Notes waiting", 7, "/admin/notes/x/")]


@override_settings(CONSOLE_FIGURES=["test_audit_console.notes_figures"])
def test_figures_are_the_services_then_its_dead_letters_waiting(client, mint):
    for replayed in (None, "2026-01-01T00:00:00Z"):
        DeadLetter.objects.create(
            message_id="m", task="t", queue="q", envelope={}, reason="failed", error="e",
            replayed_at=replayed,
        )  # fmt: skip

    answer = client.get(FIGURES, **mint.headers(client_id="gateway", scopes=["console:read"]))

    assert answer.status_code == 200
    body = answer.json()
    assert body["service"] == "notes"
    assert body["figures"] == [
        {"key": "notes", "label": "Notes waiting", "count": 7, "url": "/admin/notes/x/"},
        {
            "key": "dead_letters",
            "label": "Dead letters waiting",
            "count": 1,
            "url": "/admin/notes/service_kit/deadletter/?replayed_at__isnull=True",
        },
    ]


@pytest.mark.parametrize("path", [FIGURES, ACTIVITY])
@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ({"client_id": "order", "scopes": ["payments:read"]}, 403),
        ({"roles": ["customer"]}, 403),
        ({"roles": ["order_manager"], "is_staff": True}, 403),  # not this service's admin
        ({"roles": ["admin"], "is_staff": True}, 200),
        ({"client_id": "gateway", "scopes": ["console:read"]}, 200),
    ],
)
def test_only_the_gateway_and_this_admins_staff_read_them(client, mint, path, who, status):
    headers = {} if who is None else mint.headers(**who)
    answer = client.get(path, **headers)
    assert answer.status_code == status
    if status != 200:
        assert "code" in answer.json()["error"]


def test_activity_newest_first_and_by_person(client, mint):
    record(actor="ann@example.com", reason="first")
    record(actor="bob@example.com", action="restock", reason="second")
    record(actor="Ann@Example.com", reason="third")
    headers = mint.headers(client_id="gateway", scopes=["console:read"])

    everyone = client.get(ACTIVITY, **headers).json()["results"]
    anns = client.get(ACTIVITY, {"actor": "ann@example.com"}, **headers).json()["results"]
    one = client.get(ACTIVITY, {"limit": 1}, **headers).json()["results"]

    assert [row["reason"] for row in everyone] == ["third", "second", "first"]
    assert [row["reason"] for row in anns] == ["third", "first"]
    assert set(everyone[0]) == {
        "id", "at", "actor", "action", "target", "target_url", "reason", "details",
    }  # fmt: skip
    assert [row["reason"] for row in one] == ["third"]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "500"}, {"limit": "x"}])
def test_a_bad_query_is_a_400(client, mint, query):
    headers = mint.headers(client_id="gateway", scopes=["console:read"])
    answer = client.get(ACTIVITY, query, **headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_error"
