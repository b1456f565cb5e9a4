"""The OWASP API Security Top 10 risks that input can exploit, checked on the running platform
through the gateway, as API consumers reach it (real tokens from auth_service, real processes).

- API1 broken object-level authorization: a customer neither reads nor changes another's order,
  address or payment; the answer is 404, as for an object that does not exist.
- API3 broken object property level authorization (mass assignment): fields a client may not set
  (``is_staff``, roles, an order's state, prices, totals, owners) are refused or ignored.
- API4 unrestricted resource consumption: page sizes are capped at 100, and bodies over the
  limits are refused with 413 and the contract's body, by the gateway and by each service.
- API5 broken function-level authorization: a customer's token reaches no staff or service-only
  endpoint (403), and no admin page.

Each service's own suite checks its endpoints in-process in more detail; this one checks the
assembled platform, where a route, a proxy or a token verifier could open what a view keeps shut.
"""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from decimal import Decimal

import pytest

from platform_tools.testing.fuzz import ADDRESS, API_SERVICES, Platform, running_platform

PAGE_CAP = 100
MAX_BODY = 10 * 1024 * 1024  # any body (MAX_REQUEST_BODY_SIZE, GATEWAY_MAX_BODY_BYTES)
JSON_LIMIT = 2_621_440  # a JSON body, read in memory (DATA_UPLOAD_MAX_MEMORY_SIZE)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("owasp")) as platform:
        yield platform


@pytest.fixture(scope="module")
def ada(platform: Platform):
    """A customer with an address, and a paid order (the saga took the payment)."""
    account = platform.customer()
    address = platform.call(
        "POST", "gateway", "/api/v1/users/me/addresses/", token=account.access, body=ADDRESS
    )
    assert address.status == 201, address
    order = platform.place_order(account, via="gateway")
    assert platform.settled_order(account, order["id"])["status"] == "CONFIRMED"
    payments = platform.call("GET", "gateway", "/api/v1/payments/", token=account.access).body
    (payment,) = payments["results"]
    return {
        "account": account,
        "address": address.body["id"],
        "order": order["id"],
        "payment": payment["id"],
    }


@pytest.fixture(scope="module")
def eve(platform: Platform):
    return platform.customer()


def is_error(answer, status: int, code: str) -> bool:
    return (
        answer.status == status
        and isinstance(answer.body, dict)
        and answer.body.get("error", {}).get("code") == code
    )


# -- API1: object-level authorization ------------------------------------------------------------

ANOTHERS = [
    ("GET", "/api/v1/orders/{order}/", None),
    ("POST", "/api/v1/orders/{order}/cancel/", {"reason": "not mine"}),
    ("GET", "/api/v1/payments/{payment}/", None),
    ("GET", "/api/v1/users/me/addresses/{address}/", None),
    ("PATCH", "/api/v1/users/me/addresses/{address}/", {"city": "Elsewhere"}),
    ("PUT", "/api/v1/users/me/addresses/{address}/", {**ADDRESS, "city": "Elsewhere"}),
    ("DELETE", "/api/v1/users/me/addresses/{address}/", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ANOTHERS, ids=lambda v: str(v))
def test_another_customers_object_is_not_found_and_unchanged(
    platform, ada, eve, method, path, body
):
    owner = ada["account"].access
    url = path.format(**ada)
    read = url.removesuffix("cancel/")  # what the owner reads to see whether anything changed
    before = platform.call("GET", "gateway", read, token=owner)
    assert before.status == 200, before

    answer = platform.call(method, "gateway", url, token=eve.access, body=body)

    assert is_error(answer, 404, "not_found"), answer
    after = platform.call("GET", "gateway", read, token=owner)
    assert after.body == before.body  # nothing changed, nothing deleted


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/orders/", "order"),
        ("/api/v1/payments/", "payment"),
        ("/api/v1/payments/?order_ids={order}", "payment"),  # the batch read services use
        ("/api/v1/users/me/addresses/", "address"),
    ],
)
def test_another_customers_objects_are_not_listed(platform, ada, eve, path, key):
    listed = platform.call("GET", "gateway", path.format(**ada), token=eve.access)
    assert listed.status == 200, listed
    assert ada[key] not in [item["id"] for item in listed.body["results"]]
    # the owner's list has it, so the check can fail
    own = platform.call("GET", "gateway", path.format(**ada), token=ada["account"].access)
    assert ada[key] in [item["id"] for item in own.body["results"]]


# -- API3: mass assignment -----------------------------------------------------------------------

PRIVILEGES = {"is_staff": True, "is_superuser": True, "roles": ["admin"], "groups": ["admin"]}


def test_registration_grants_no_privileges(platform):
    account = platform.customer(profile=False, **PRIVILEGES)
    me = platform.call("GET", "gateway", "/api/v1/auth/me/", token=account.access).body
    assert (me["is_staff"], me["roles"]) == (False, ["customer"])
    payload = account.access.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["is_staff"], claims["roles"]) == (False, ["customer"])


@pytest.mark.parametrize(
    "change",
    [
        {"is_staff": True},
        {"roles": ["admin"]},
        {"is_superuser": True},
        {"id": "00000000-0000-4000-8000-000000000001", "first_name": "Eve"},
        {"user_id": "00000000-0000-4000-8000-000000000001"},
        {"email": "someone@example.com"},
    ],
    ids=lambda change: ",".join(change),
)
def test_the_profile_takes_no_privileges_nor_another_identity(platform, eve, change):
    answer = platform.call("PATCH", "gateway", "/api/v1/users/me/", token=eve.access, body=change)

    # refused as a field it does not have, or ignored as a read-only one: never applied
    assert answer.status == 200 or is_error(answer, 400, "validation_error"), answer
    profile = platform.call("GET", "gateway", "/api/v1/users/me/", token=eve.access).body
    assert (profile["id"], profile["email"]) == (eve.id, eve.email)
    me = platform.call("GET", "gateway", "/api/v1/auth/me/", token=eve.access).body
    assert (me["is_staff"], me["roles"]) == (False, ["customer"])


def test_an_order_takes_its_prices_and_state_from_the_platform_not_the_client(platform, eve, ada):
    body = {
        "lines": [
            {
                "product_id": platform.products["HOSTILE-MUG"],
                "quantity": 2,
                "unit_price": "0.01",
                "line_total": "0.02",
                "sku": "FREE",
                "name": "Free",
            }
        ],
        "shipping_address": ADDRESS,
        "payment_token": "tok_visa",
        "status": "CONFIRMED",
        "total": "0.01",
        "currency": "XXX",
        "customer_id": ada["account"].id,
        "history": [{"status": "CONFIRMED", "reason": "paid", "actor": "eve"}],
    }
    answer = platform.call("POST", "gateway", "/api/v1/orders/", token=eve.access, body=body)

    assert answer.status == 201, answer
    order = answer.body
    assert order["status"] == "PENDING"
    assert [s["status"] for s in order["history"]] == ["PENDING"]
    (line,) = order["lines"]
    assert (line["sku"], line["unit_price"], line["line_total"]) == (
        "HOSTILE-MUG",
        "12.50",
        "25.00",
    )
    assert (order["total"], order["currency"]) == ("25.00", "EUR")
    # the order is the caller's, whatever customer it named
    owner = platform.call("GET", "gateway", f"/api/v1/orders/{order['id']}/", token=eve.access)
    assert owner.status == 200
    named = platform.call(
        "GET", "gateway", f"/api/v1/orders/{order['id']}/", token=ada["account"].access
    )
    assert is_error(named, 404, "not_found")
    # and the payment the saga takes is the catalogue's price, not the client's
    settled = platform.settled_order(eve, order["id"])
    assert settled["status"] == "CONFIRMED"
    rows = platform.query(
        "payment", "SELECT amount FROM payments_payment WHERE order_id = %s", (order["id"],)
    )
    assert rows == [(Decimal("25.00"),)]


def test_an_address_is_the_callers_whatever_owner_it_names(platform, eve, ada):
    body = {**ADDRESS, "user": ada["account"].id, "user_id": ada["account"].id}
    answer = platform.call(
        "POST", "gateway", "/api/v1/users/me/addresses/", token=eve.access, body=body
    )
    assert is_error(answer, 400, "validation_error"), answer  # fields it does not have
    own = platform.call(
        "GET", "gateway", "/api/v1/users/me/addresses/", token=ada["account"].access
    )
    assert [item["id"] for item in own.body["results"]] == [ada["address"]]


# -- API4: resource consumption ------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(platform: Platform):
    """More than a page's worth of everything a list shows (rows made directly, no events), a
    customer who owns a crowd of orders and payments, and a staff member who sees the stock."""
    many = PAGE_CAP + 5
    account = platform.customer(profile=False)
    customer = account.id
    seeds = {
        "product": "from tests.factories import CategoryFactory, ProductFactory\n"
        f"ProductFactory.create_batch({many}, category=CategoryFactory())\n"
        f"CategoryFactory.create_batch({many})\nprint('made')",
        "inventory": "from tests.factories import "
        "AdjustmentFactory, ReservationFactory, StockItemFactory\n"
        f"StockItemFactory.create_batch({many})\n"
        f"item = StockItemFactory()\nAdjustmentFactory.create_batch({many}, stock_item=item)\n"
        f"ReservationFactory.create_batch({many})\nprint(item.sku)",
        "order": "from tests.factories import OrderFactory\n"
        f"OrderFactory.create_batch({many}, customer_id={customer!r})\nprint('made')",
        "payment": "from tests.factories import PaymentFactory\n"
        f"PaymentFactory.create_batch({many}, customer_id={customer!r})\nprint('made')",
    }
    made = {name: platform.shell(name, code) for name, code in seeds.items()}
    return {
        "sku": made["inventory"],  # the stock item with the adjustments
        None: None,
        "customer": account.access,
        "staff": platform.staff("support", "inventory_manager").access,
    }


LISTS = [
    ("/api/v1/products/", None),
    ("/api/v1/categories/", None),
    ("/api/v1/orders/", "customer"),
    ("/api/v1/payments/", "customer"),
    ("/api/v1/inventory/", "staff"),
    ("/api/v1/inventory/reservations/", "staff"),
    ("/api/v1/inventory/{sku}/adjustments/", "staff"),
]


@pytest.mark.parametrize(("path", "who"), LISTS, ids=[path for path, _ in LISTS])
@pytest.mark.parametrize("page_size", ["100000", "101", "-1", "0", "abc"])
def test_page_sizes_are_capped(platform, crowded, path, who, page_size):
    url = path.format(sku=crowded["sku"]) + f"?page_size={page_size}"

    answer = platform.call("GET", "gateway", url, token=crowded[who])

    assert answer.status == 200, answer
    assert answer.body["count"] > PAGE_CAP
    expected = PAGE_CAP if page_size.isdigit() and int(page_size) > 0 else 20  # else the default
    assert len(answer.body["results"]) == expected
    assert answer.body["next"]


WRITES = {
    "auth": "/api/v1/auth/register/",
    "user": "/api/v1/users/me/addresses/",
    "product": "/api/v1/products/",
    "inventory": "/api/v1/inventory/HOSTILE-MUG/adjustments/",
    "order": "/api/v1/orders/",
    "payment": "/api/v1/payments/",
}


def declared_oversize_post(port: int, path: str, token: str) -> tuple[int, str, dict]:
    """A POST whose Content-Length is one byte over the limit, the body never sent: the answer
    must come from the headers alone."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("via", ["gateway", "direct"])
@pytest.mark.parametrize("service", API_SERVICES)
def test_oversized_bodies_are_refused_with_413(platform, eve, service, via):
    proc = platform.procs["gateway" if via == "gateway" else service]
    status, content_type, body = declared_oversize_post(proc.port, WRITES[service], eve.access)
    assert status == 413 and content_type.startswith("application/json")
    assert body["error"]["code"] == "payload_too_large"
    assert body["error"]["details"] == {"max_bytes": MAX_BODY}


@pytest.mark.parametrize("via", ["gateway", "direct"])
def test_json_is_read_up_to_its_own_limit_and_refused_with_413_above(platform, eve, via):
    # JSON is parsed in memory, up to a smaller limit than uploads (which stream) have
    url = "/api/v1/users/me/addresses/"
    target = "gateway" if via == "gateway" else "user"
    for size, expected in [(JSON_LIMIT - 1024, 400), (JSON_LIMIT + 1024, 413)]:
        body = {**ADDRESS, "name": "x" * size}
        answer = platform.call("POST", target, url, token=eve.access, body=body)
        if expected == 400:  # read and refused for what it says, not for its size
            assert is_error(answer, 400, "validation_error"), answer
            assert "name" in answer.body["error"]["details"]
        else:
            assert is_error(answer, 413, "payload_too_large"), answer
            assert answer.body["error"]["details"] == {"max_bytes": JSON_LIMIT}


# -- API5: function-level authorization ----------------------------------------------------------

STAFF_ONLY = [
    ("POST", "/api/v1/products/", {"sku": "EVE-1", "name": "Eve", "price": "1.00"}),
    ("PATCH", "/api/v1/products/{product}/", {"price": "0.01"}),
    ("DELETE", "/api/v1/products/{product}/", None),
    ("POST", "/api/v1/categories/", {"name": "Eve"}),
    ("GET", "/api/v1/inventory/", None),
    ("GET", "/api/v1/inventory/reservations/", None),
    ("GET", "/api/v1/inventory/HOSTILE-MUG/adjustments/", None),
    ("POST", "/api/v1/inventory/HOSTILE-MUG/adjustments/", {"kind": "restock", "quantity": 5}),
    ("POST", "/api/v1/payments/{payment}/refunds/", {"amount": "1.00", "reason": "mine"}),
    ("GET", "/api/v1/users/{user}/", None),
    ("GET", "/api/v1/users/{self}/", None),
]
SERVICE_ONLY = [
    (
        "POST",
        "/api/v1/payments/",
        {"order_id": "{order}", "amount": "12.50", "currency": "EUR", "payment_token": "tok_visa"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), STAFF_ONLY + SERVICE_ONLY, ids=lambda v: str(v)
)
def test_a_customer_reaches_no_staff_or_service_endpoint(platform, ada, method, path, body):
    # ada's own payment, order and id included: owning an object does not make one staff
    values = {
        "product": platform.products["HOSTILE-LAMP"],
        "payment": ada["payment"],
        "order": ada["order"],
        "user": str(uuid.uuid4()),
        "self": ada["account"].id,
    }
    url = path.format(**values)
    if body:
        body = json.loads(json.dumps(body).replace("{order}", values["order"]))
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    before = staff_state(platform, ada)

    answer = platform.call(
        method, "gateway", url, token=ada["account"].access, body=body, headers=headers
    )

    assert is_error(answer, 403, "permission_denied"), answer
    assert staff_state(platform, ada) == before


def staff_state(platform: Platform, ada) -> list:
    """What the refused calls above would change."""
    lamp = platform.products["HOSTILE-LAMP"]
    return [
        platform.call("GET", "gateway", f"/api/v1/products/{lamp}/").body,
        platform.query(
            "product",
            "SELECT (SELECT count(*) FROM catalogue_product), "
            "(SELECT count(*) FROM catalogue_category)",
        ),
        platform.query("inventory", "SELECT count(*) FROM stock_adjustment"),
        platform.query(
            "payment",
            "SELECT (SELECT count(*) FROM payments_payment), "
            "(SELECT count(*) FROM payments_refund)",
        ),
    ]


@pytest.mark.parametrize("admin", ["auth", "users", "products", "inventory", "orders", "payments"])
def test_a_customers_token_opens_no_admin_page(platform, ada, admin):
    conn = http.client.HTTPConnection("127.0.0.1", platform.procs["gateway"].port, timeout=30)
    try:
        conn.request(
            "GET", f"/admin/{admin}/", headers={"Authorization": f"Bearer {ada['account'].access}"}
        )
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    # the admin knows sessions only: to its sign-in page
    assert response.status == 302
    assert f"/admin/{admin}/login/" in response.getheader("Location")
