"""The kit's API defaults on the test app: the error contract and Idempotency-Key."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from kit import kit_env, kit_service
from notes.models import Note

from platform_tools.testing.client import post_json
from platform_tools.testing.contract import assert_error, error_contract_test
from platform_tools.testing.processes import wait_for
from service_kit.models import IdempotencyKey, OutboxMessage

test_error_contract = error_contract_test(read="/api/v1/notes/", write="/api/v1/notes/")

NOTES = "/api/v1/notes/"


def post(client, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        NOTES, data=json.dumps(body), content_type="application/json", **headers, **extra
    )


@pytest.mark.django_db
def test_validation_error_names_each_field(client):
    response = post(client, {"text": ""})
    body = assert_error(response, 400, "validation_error")
    assert body["error"]["details"] == {"text": ["This field may not be blank."]}
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_list_is_paginated_with_page_size_capped(client):
    Note.objects.bulk_create(Note(text=f"n{i}") for i in range(25))
    first = client.get(NOTES).json()
    assert first["count"] == 25 and len(first["results"]) == 20
    assert set(first) == {"count", "next", "previous", "results"}
    assert len(client.get(NOTES, {"page_size": 500}).json()["results"]) == 25
    assert len(client.get(NOTES, {"page_size": 5, "page": 2}).json()["results"]) == 5


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_answer(client):
    first = post(client, {"text": "once"}, key="key-1")
    second = post(client, {"text": "once"}, key="key-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Note.objects.count() == 1
    assert OutboxMessage.objects.count() == 1  # the event was written once, too


@pytest.mark.django_db
def test_same_key_with_another_body_is_refused(client):
    post(client, {"text": "first"}, key="key-2")
    response = post(client, {"text": "second"}, key="key-2")
    assert_error(response, 422, "idempotency_key_reused")
    assert list(Note.objects.values_list("text", flat=True)) == ["first"]


@pytest.mark.django_db
def test_keys_belong_to_their_caller(client):
    post(client, {"text": "a"}, key="shared-key", REMOTE_ADDR="10.0.0.1")
    response = post(client, {"text": "b"}, key="shared-key", REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 201
    assert Note.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"client_id": "order-service"}, {"client_id": "payment-service"}),
        ({"user_id": "7a0a4f40-5b7e-4d34-a1a8-1d3c3f7d2f01"}, {"client_id": "order-service"}),
        ({"client_id": "order-service"}, {"user_id": "7a0a4f40-5b7e-4d34-a1a8-1d3c3f7d2f01"}),
    ],
    ids=["two-services", "customer-then-service", "service-then-customer"],
)
def test_keys_belong_to_their_token_holder(client, mint, first, second):
    """Given two callers with tokens (two service clients, or a customer and a service) using
    one Idempotency-Key, when each posts its own body, then each gets its own answer: neither
    replays nor is refused by the other's."""
    one = post(client, {"text": "one"}, key="shared-key", **mint.headers(**first))
    two = post(client, {"text": "two"}, key="shared-key", **mint.headers(**second))
    assert (one.status_code, two.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in two
    assert two.json()["text"] == "two"
    assert sorted(Note.objects.values_list("text", flat=True)) == ["one", "two"]
    again = post(client, {"text": "two"}, key="shared-key", **mint.headers(**second))
    assert again["Idempotent-Replayed"] == "true" and again.json() == two.json()


@pytest.mark.django_db
def test_expired_key_is_used_afresh(client):
    post(client, {"text": "old"}, key="key-3")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post(client, {"text": "new"}, key="key-3")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Note.objects.count() == 2


@pytest.mark.django_db
def test_failed_request_releases_its_key(client):
    assert post(client, {"text": ""}, key="key-4").status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, {"text": "fixed"}, key="key-4").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_malformed_key_is_a_validation_error(client, key):
    response = client.post(
        NOTES, data='{"text": "x"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_error(response, 400, "validation_error")


def test_second_request_while_the_first_runs_is_a_conflict(harness_factory):
    """On a real process (threads) and PostgreSQL: 409 while in flight, replay afterwards."""
    harness = harness_factory("real")
    notes = kit_service("notes")
    web = harness.start_web(notes, **kit_env("notes", ""))
    headers = {"Idempotency-Key": "slow-key"}
    results = {}

    def first():
        results["first"] = post_json(f"{web.url}{NOTES}?sleep=2", {"text": "slow"}, headers)

    thread = threading.Thread(target=first)
    thread.start()
    in_flight = (
        "SELECT count(*) FROM service_kit_idempotencykey WHERE key = ? AND completed_at IS NULL"
    )
    wait_for(
        lambda: harness.query(notes, in_flight, ("slow-key",)) == [(1,)],
        10,
        interval=0.02,
        what="the first request under way, its key held",
    )
    status, _, body = post_json(f"{web.url}{NOTES}?sleep=2", {"text": "slow"}, headers)
    assert status == 409 and body["error"]["code"] == "conflict"
    thread.join(10)
    assert results["first"][0] == 201
    status, response_headers, body = post_json(f"{web.url}{NOTES}", {"text": "slow"}, headers)
    assert status == 201 and body == results["first"][2]
    assert response_headers["Idempotent-Replayed"] == "true"


def test_a_database_error_outside_the_api_views_is_a_503_too():
    """Django's own error page (a middleware's or the admin's query failing) says the same."""
    from django.db import OperationalError
    from django.test import RequestFactory

    from service_kit.api.errors import server_error

    request = RequestFactory().get("/admin/")
    try:
        raise OperationalError("connection to server failed: Connection refused")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500  # anything else is still a bug, and says so
