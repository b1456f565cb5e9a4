"""A service answers without waiting for the event that makes what is asked for.

On real processes (PostgreSQL, Redis, RabbitMQ), the consumer's worker not running yet:

- a new customer registers, signs in and asks user_service for ``/api/v1/users/me/``, so
  ``user.registered`` cannot have been applied. The profile is there at once, made from the
  token's claims; once the worker runs, the event merges the names the registration carried into
  it, and the user's own edit made meanwhile stays.
- support staff read a newly registered user's profile by id (``/api/v1/users/{user_id}/``):
  user_service asks auth_service for the account with its own service token and makes the
  profile from it; once the worker runs, the event merges into that one row. An unknown user is a
  404, a customer is refused without auth_service being asked, and with auth_service stopped a
  user user_service has not heard of is a 503 JSON error.
- a product is created in product_service and its SKU asked of inventory_service, so
  ``product.created`` waits in inventory's queue. The stock item is there at once (no stock),
  made from product_service's answer, and a restock can be made; once the worker runs, the event
  merges into that one row and leaves the stock as it is. With product_service stopped, a SKU
  inventory has not heard of is a 503 JSON error.
"""

from __future__ import annotations

import uuid

import pytest
from platform_helpers import (
    AUTH,
    INVENTORY,
    PASSWORD,
    PRODUCT,
    USER,
    create_service_client,
    shell,
    shell_with,
)

from platform_tools.testing import backing
from platform_tools.testing.client import call, post_json
from platform_tools.testing.processes import Harness, wait_for

ME = "/api/v1/users/me/"

#: user_service's service identity: it reads an account by id (``accounts:read``).
USER_CLIENT = ("user", "consistency-user-client-secret-0123456789")


def user_env(auth) -> dict[str, str]:
    """user_service's processes: auth's keys, and auth itself with this service's identity."""
    return {
        "JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json",
        "AUTH_SERVICE_URL": auth.url,
        "SERVICE_CLIENT_ID": USER_CLIENT[0],
        "SERVICE_CLIENT_SECRET": USER_CLIENT[1],
    }


def staff_token(harness, role: str, email: str) -> str:
    """An access token of a new staff member in ``role``, made in auth_service."""
    return shell_with(
        harness,
        AUTH,
        "from django.contrib.auth.models import Group\nfrom accounts.models import User\n"
        "from accounts.tokens import token_pair\n"
        f"person = User.objects.create_user({email!r}, None, is_staff=True)\n"
        f"person.groups.add(Group.objects.get(name={role!r}))\n"
        "print(token_pair(person)['access'])",
        JWT_AUTO_KEY="1",
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("consistency"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        harness.start_worker(AUTH)  # auth's outbox reaches the broker either way
        create_service_client(harness, *USER_CLIENT, ["accounts:read"], JWT_AUTO_KEY="1")
        user = harness.start_web(USER, **user_env(auth))
        yield harness, auth, user
    finally:
        harness.cleanup()


def test_support_reads_a_profile_before_user_registered_is_applied_and_the_event_merges_later(
    platform,
):
    harness, auth, user = platform
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    status, _, registered = post_json(
        f"{auth.url}/api/v1/auth/register/",
        {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert status == 201, registered
    user_id = registered["id"]
    support = staff_token(harness, "support", f"support-{user_id[:8]}@example.com")

    # No worker consumes user.registered: the read asks auth_service and makes the profile.
    status, profile = call("GET", f"{user.url}/api/v1/users/{user_id}/", support)
    assert status == 200, profile
    assert (profile["email"], profile["first_name"], profile["last_name"]) == (
        email,
        "Ada",
        "Lovelace",
    )
    assert profile["is_active"] is True and profile["addresses"] == []
    made = "SELECT count(*), min(registered_at) FROM profiles_profile WHERE user_id = ?::uuid"
    assert harness.query(USER, made, (user_id,)) == [(1, None)]

    status, error = call("GET", f"{user.url}/api/v1/users/{uuid.uuid4()}/", support)
    assert status == 404 and error["error"]["code"] == "not_found", error
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200, pair
    status, error = call("GET", f"{user.url}/api/v1/users/{user_id}/", pair["access"])
    assert status == 403 and error["error"]["code"] == "permission_denied", error

    worker = harness.start_worker(USER, **user_env(auth))
    wait_for(
        lambda: harness.query(USER, made, (user_id,))[0][1] is not None,
        timeout=60,
        what="user.registered merged into the profile",
    )
    # One row, the names unchanged; nothing dead-lettered.
    assert harness.query(
        USER,
        "SELECT email, first_name, last_name, is_active FROM profiles_profile "
        "WHERE user_id = ?::uuid",
        (user_id,),
    ) == [(email, "Ada", "Lovelace", True)]
    assert harness.query(USER, "SELECT count(*) FROM service_kit_deadletter") == [(0,)]
    # The next test starts with no worker consuming user.registered.
    worker.stop()


def test_me_answers_before_user_registered_is_applied_and_the_event_merges_later(platform):
    harness, auth, user = platform
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    status, _, body = post_json(
        f"{auth.url}/api/v1/auth/register/",
        {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert status == 201, body
    status, _, pair = post_json(
        f"{auth.url}/api/v1/auth/token/", {"email": email, "password": PASSWORD}
    )
    assert status == 200, pair
    token = pair["access"]

    # No worker consumes user.registered yet: the first request makes the profile.
    status, me = call("GET", f"{user.url}{ME}", token)
    assert status == 200, me
    assert (me["email"], me["first_name"], me["last_name"]) == (email, "", "")
    status, me = call("PATCH", f"{user.url}{ME}", token, {"last_name": "King"})
    assert status == 200 and me["last_name"] == "King", me

    harness.start_worker(USER, **user_env(auth))
    merged = wait_for(
        lambda: (
            (answer := call("GET", f"{user.url}{ME}", token)[1])["first_name"] == "Ada" and answer
        ),
        timeout=60,
        what="user.registered merged into the profile",
    )
    # The event filled in what the token did not carry; the user's own edit stays.
    assert (merged["email"], merged["first_name"], merged["last_name"]) == (
        email,
        "Ada",
        "King",
    )


@pytest.fixture(scope="module")
def catalogue_platform(tmp_path_factory):
    """auth and product (web and worker: the outbox reaches the broker), inventory's web only."""
    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("consistency-stock"),
        profile="real",
        broker_url=backing.create_vhost(),
    )
    try:
        auth = harness.start_web(AUTH, JWT_AUTO_KEY="1")
        keys = {"JWT_JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        product = harness.start_web(PRODUCT, **keys)
        harness.start_worker(PRODUCT, **keys)
        env = {**keys, "PRODUCT_SERVICE_URL": product.url}
        inventory = harness.start_web(INVENTORY, **env)
        yield harness, product, inventory, env
    finally:
        harness.cleanup()


def test_stock_answers_before_product_created_is_applied_and_the_event_merges_later(
    catalogue_platform,
):
    harness, product, inventory, env = catalogue_platform
    sku = f"LAMP-{uuid.uuid4().hex[:8].upper()}"
    product_id = shell(
        harness,
        PRODUCT,
        "from decimal import Decimal\nfrom catalogue.services import product_create\n"
        f"print(product_create(sku={sku!r}, name='Lamp', price=Decimal('30.00')).pk)",
    )
    # product.created has left product_service's outbox: it waits in inventory's queue.
    wait_for(
        lambda: (
            harness.query(
                PRODUCT, "SELECT count(*) FROM service_kit_outboxmessage WHERE published_at IS NULL"
            )
            == [(0,)]
        ),
        timeout=60,
        what="product.created published",
    )
    manager = shell_with(
        harness,
        AUTH,
        "from django.contrib.auth.models import Group\nfrom accounts.models import User\n"
        "from accounts.tokens import token_pair\n"
        f"user = User.objects.create_user('stock-{sku.lower()}@example.com', None, "
        "is_staff=True)\n"
        "user.groups.add(Group.objects.get(name='inventory_manager'))\n"
        "print(token_pair(user)['access'])",
        JWT_AUTO_KEY="1",
    )
    url = f"{inventory.url}/api/v1/inventory/{sku}/"

    status, item = call("GET", url)
    assert status == 200, item
    assert (item["on_hand"], item["reserved"], item["available"], item["is_active"]) == (
        0,
        0,
        0,
        True,
    )
    status, adjustment = call(
        "POST", f"{url}adjustments/", manager, {"kind": "restock", "quantity": 5, "reason": "in"}
    )
    assert status == 201, adjustment
    status, error = call("GET", f"{inventory.url}/api/v1/inventory/NO-{sku}/")
    assert status == 404 and error["error"]["code"] == "not_found", error

    learned = harness.query(
        INVENTORY, "SELECT catalogue_synced_at FROM stock_stockitem WHERE sku = ?", (sku,)
    )
    harness.start_worker(INVENTORY, **env)
    wait_for(
        lambda: (
            harness.query(
                INVENTORY, "SELECT catalogue_synced_at FROM stock_stockitem WHERE sku = ?", (sku,)
            )
            != learned
        ),
        timeout=60,
        what="product.created merged into the stock item",
    )
    # One row, the product's, with the stock given before the event; nothing dead-lettered.
    assert harness.query(
        INVENTORY,
        "SELECT product_id::text, on_hand, reserved, deactivated_at FROM stock_stockitem "
        "WHERE sku = ?",
        (sku,),
    ) == [(product_id, 5, 0, None)]
    assert harness.query(INVENTORY, "SELECT count(*) FROM service_kit_deadletter") == [(0,)]
    status, item = call("GET", url)
    assert (status, item["on_hand"], item["available"]) == (200, 5, 5), item

    product.stop()
    status, error = call("GET", f"{inventory.url}/api/v1/inventory/OTHER-{sku}/")
    assert status == 503 and error["error"]["code"] == "upstream_unavailable", error
    status, item = call("GET", url)  # what inventory keeps is still answered
    assert status == 200, item


def test_with_auth_service_stopped_a_user_not_heard_of_is_503(platform):
    """Last: it stops auth_service."""
    harness, auth, user = platform
    support = staff_token(harness, "support", f"support-{uuid.uuid4().hex[:8]}@example.com")
    known = harness.query(USER, "SELECT user_id::text FROM profiles_profile LIMIT 1")

    auth.stop()

    status, error = call("GET", f"{user.url}/api/v1/users/{uuid.uuid4()}/", support)
    assert status == 503 and error["error"]["code"] == "upstream_unavailable", error
    assert error["error"]["details"]["upstream"] == "auth", error
    for (user_id,) in known:  # what user_service keeps is still answered
        status, profile = call("GET", f"{user.url}/api/v1/users/{user_id}/", support)
        assert status == 200, profile
