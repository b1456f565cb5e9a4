"""A customer's journey, through the gateway only: register, sign in, edit the profile, upload an
avatar, browse the catalogue, order, see the order confirmed and listed, sign out, erase the
account."""

from __future__ import annotations

import io

import requests
from conftest import PASSWORD, Api, new_customer, place_order, settled, sign_in, wait_for
from PIL import Image


def png(colour: str, size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def skus(answer: dict) -> list[str]:
    return [product["sku"] for product in answer["results"]]


def test_anyone_browses_and_filters_the_catalogue(gateway, catalogue):
    visitor = Api(gateway)  # no token: the catalogue's reads are public
    categories = visitor.ok("GET", "/api/v1/categories/")
    assert {"mugs", "tees"} <= {category["slug"] for category in categories["results"]}

    mugs = visitor.ok("GET", "/api/v1/products/", params={"category": "mugs", "ordering": "price"})
    assert skus(mugs) == ["E2E-MUG-1", "E2E-MUG-2"] and mugs["count"] == 2
    assert [p["price"] for p in mugs["results"]] == ["12.50", "30.00"]
    cheaper = visitor.ok("GET", "/api/v1/products/", params={"min_price": "15", "max_price": "25"})
    assert skus(cheaper) == ["E2E-TEE-1"]
    assert skus(visitor.ok("GET", "/api/v1/products/", params={"search": "big"})) == ["E2E-MUG-2"]
    by_slug = visitor.ok("GET", f"/api/v1/products/{catalogue['E2E-TEE-1']['slug']}/")
    assert by_slug["id"] == catalogue["E2E-TEE-1"]["id"] and by_slug["currency"] == "EUR"
    # a bad filter is the client's mistake, said in the API's error shape
    status, error = visitor.get("/api/v1/products/", params={"min_price": "cheap"})
    assert status == 400 and error["error"]["code"] == "validation_error"


def test_a_customer_from_registration_to_erasure(stack, gateway, catalogue):
    email, created, pair = new_customer(gateway, first_name="Ada", last_name="Byron")
    assert created["email"] == email
    me = Api(gateway, pair["access"])
    assert me.ok("GET", "/api/v1/auth/me/")["roles"] == ["customer"]

    # The profile comes from user.registered (auth_service → user_service, over RabbitMQ).
    profile = wait_for(
        lambda: (answer := me.get("/api/v1/users/me/"))[0] == 200 and answer[1],
        what="the profile made from user.registered",
    )
    assert (profile["id"], profile["email"], profile["first_name"]) == (created["id"], email, "Ada")
    edited = me.ok(
        "PATCH",
        "/api/v1/users/me/",
        {"last_name": "Lovelace", "phone": "+4930123456", "preferences": {"newsletter": True}},
    )
    assert (edited["last_name"], edited["phone"]) == ("Lovelace", "+4930123456")
    assert me.ok("GET", "/api/v1/users/me/")["preferences"] == {"newsletter": True}

    # The avatar goes to the bucket; its URL (signed) serves the same bytes.
    picture = png("teal")
    status, profile = me.call(
        "PUT", "/api/v1/users/me/avatar/", files={"avatar": ("me.png", picture, "image/png")}
    )
    assert status == 200, profile
    assert profile["avatar_url"].startswith(stack.media_url)
    assert requests.get(profile["avatar_url"], timeout=10).content == picture
    folder = f"avatars/{created['id']}/"
    assert len([key for key in stack.media_bucket("user").names() if key.startswith(folder)]) == 1

    # An order: priced by product_service, reserved by inventory, paid through the sandbox.
    mug, tee = catalogue["E2E-MUG-1"], catalogue["E2E-TEE-1"]
    order = place_order(me, [(mug, 2), (tee, 1)])
    assert order["status"] == "PENDING" and order["total"] == "45.00"
    done = settled(me, order["id"])
    assert done["status"] == "CONFIRMED", done["history"]
    assert [step["status"] for step in done["history"]] == [
        "PENDING",
        "PAYMENT_PENDING",
        "CONFIRMED",
    ]
    assert {(line["sku"], line["quantity"], line["line_total"]) for line in done["lines"]} == {
        ("E2E-MUG-1", 2, "25.00"),
        ("E2E-TEE-1", 1, "20.00"),
    }
    listed = me.ok("GET", "/api/v1/orders/")
    assert [(o["id"], o["status"]) for o in listed["results"]] == [(order["id"], "CONFIRMED")]
    payments = me.ok("GET", "/api/v1/payments/", params={"order_id": order["id"]})
    assert [(p["status"], p["amount"]) for p in payments["results"]] == [("SUCCEEDED", "45.00")]

    # Signing out ends both tokens, everywhere.
    me.ok("POST", "/api/v1/auth/logout/", {"refresh": pair["refresh"]}, expect=204)
    for path in ("/api/v1/auth/me/", "/api/v1/users/me/", "/api/v1/orders/"):
        status, error = me.get(path)
        assert status == 401 and error["error"]["code"] == "token_not_valid", (path, error)
    status, error = Api(gateway).post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert status == 401, error

    # Erasure: signed in again, the customer erases the account; nothing of it stays usable.
    again = Api(gateway, sign_in(gateway, email)["access"])
    again.ok("DELETE", "/api/v1/auth/me/", {"password": PASSWORD}, expect=204)
    status, _ = again.get("/api/v1/orders/")
    assert status == 401
    status, _ = Api(gateway).post("/api/v1/auth/token/", {"email": email, "password": PASSWORD})
    assert status == 401
    # user.erased reaches user_service: the profile is emptied, the avatar deleted from the bucket.
    wait_for(
        lambda: stack.query(
            "user",
            "SELECT email, first_name, last_name, phone, avatar FROM profiles_profile "
            "WHERE user_id = %s AND erased_at IS NOT NULL",
            (created["id"],),
        ),
        what="the profile erased",
    )
    row = stack.query(
        "user",
        "SELECT email, first_name, last_name, phone, avatar FROM profiles_profile "
        "WHERE user_id = %s",
        (created["id"],),
    )[0]
    assert email not in row[0] and row[1:] == ("", "", "", "")
    assert not [key for key in stack.media_bucket("user").names() if key.startswith(folder)]
