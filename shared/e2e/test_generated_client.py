"""The platform's one OpenAPI document is enough for a client: one Python client generated from
the gateway's ``/api/schema/`` with ``openapi-python-client`` (docs/api.md#generating-a-client)
runs a customer's journey through the gateway on its own: register, sign in, browse, order, see
it CONFIRMED, read the payment, sign out."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from conftest import PASSWORD, wait_for

from platform_tools.testing.api import SHIPPING_ADDRESS

PACKAGE = "platform_api_client"


@pytest.fixture(scope="module")
def api(gateway, tmp_path_factory):
    """The generated package, imported from a temporary folder (and forgotten afterwards)."""
    folder = tmp_path_factory.mktemp("generated-client")
    document = requests.get(f"{gateway}/api/schema/", timeout=60)
    assert document.status_code == 200, document.text
    (folder / "platform.json").write_text(document.text)
    (folder / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter needed
    argv = [
        str(Path(sys.executable).with_name("openapi-python-client")),  # pinned, in this venv
        "generate",
        *("--path", str(folder / "platform.json"), "--meta", "none"),
        *("--output-path", str(folder / PACKAGE), "--config", str(folder / "config.json")),
    ]
    subprocess.run(  # noqa: S603 - the pinned generator next to this interpreter, argv built here
        argv,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def call(module: str, **kwargs):
    """``api.<module>.sync_detailed(**kwargs)``: the status and the parsed body."""
    answer = importlib.import_module(f"{PACKAGE}.api.{module}").sync_detailed(**kwargs)
    return answer.status_code, answer.parsed


def model(name: str, data: dict):
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name).from_dict(data)


def test_a_customer_journey_with_a_client_generated_from_the_merged_document(
    api, gateway, catalogue
):
    anonymous = api.Client(base_url=gateway, raise_on_unexpected_status=True, timeout=20)
    email = f"gen-{uuid.uuid4().hex[:8]}@example.com"

    status, registered = call(
        "auth.auth_register_create",
        client=anonymous,
        body=model("RegisterRequest", {"email": email, "password": PASSWORD}),
    )
    assert status == 201 and registered.email == email
    status, pair = call(
        "auth.auth_token_create",
        client=anonymous,
        body=model("TokenObtainRequest", {"email": email, "password": PASSWORD}),
    )
    assert status == 200 and pair.access
    me = api.AuthenticatedClient(
        base_url=gateway, token=pair.access, raise_on_unexpected_status=True, timeout=20
    )

    # Browse: anyone reads the catalogue; a product by its slug.
    status, page = call("products.products_list", client=anonymous, search="blue mug")
    assert status == 200 and [p.sku for p in page.results] == ["E2E-MUG-1"]
    status, mug = call("products.products_retrieve", client=anonymous, key=page.results[0].slug)
    assert status == 200 and str(mug.id) == catalogue["E2E-MUG-1"]["id"]
    # A missing product is the documented 404 with the error body, parsed as such.
    status, missing = call("products.products_retrieve", client=anonymous, key="no-such-thing")
    assert status == 404 and missing.error.code == "not_found"

    body = {
        "lines": [{"product_id": str(mug.id), "quantity": 2}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }
    status, order = call(
        "orders.orders_create",
        client=me,
        body=model("OrderCreateRequest", body),
        idempotency_key=uuid.uuid4().hex,
    )
    assert status == 201, order
    assert order.total == "25.00" and order.lines[0].sku == "E2E-MUG-1"

    def confirmed():
        _, current = call("orders.orders_retrieve", client=me, order_id=order.id)
        return current if current.status.value in {"CONFIRMED", "REJECTED", "FAILED"} else None

    final = wait_for(confirmed, timeout=60, interval=0.5, what="the order to settle")
    assert final.status.value == "CONFIRMED"
    assert [entry.status.value for entry in final.history][-1] == "CONFIRMED"

    status, payments = call("payments.payments_list", client=me, order_id=order.id)
    assert status == 200 and payments.count == 1
    payment = payments.results[0]
    status, read = call("payments.payments_retrieve", client=me, payment_id=payment.id)
    assert status == 200 and read.order_id == order.id
    assert (read.amount, read.currency, read.status.value) == ("25.00", "EUR", "SUCCEEDED")

    status, _ = call(
        "auth.auth_logout_create",
        client=me,
        body=model("RefreshRequest", {"refresh": pair.refresh}),
    )
    assert status == 204
    status, refused = call("orders.orders_list", client=me)
    assert status == 401 and refused.error.code in {"token_not_valid", "not_authenticated"}
