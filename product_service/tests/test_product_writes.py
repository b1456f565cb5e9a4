"""Writes of products: who may, what is checked, what is announced (outbox) and answered."""

from decimal import Decimal

import pytest
from catalogue.models import Product

from platform_tools.testing.contract import assert_error
from service_kit.models import IdempotencyKey

from .factories import CategoryFactory, ProductFactory
from .helpers import events

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
SKU_MESSAGE = "A SKU has letters, digits, '-', '_' and '.', and starts with a letter or digit."
NEW = {"sku": "MUG-BLUE", "name": "Blue Mug", "price": "12.50"}


def detail(product) -> str:
    return f"{LIST}{product.pk}/"


# -- who may write --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["customer", "support", "inventory_manager"])
def test_only_catalogue_managers_and_admins_write(as_role, role):
    api = as_role(role)
    product = ProductFactory()

    answers = [
        api.post(LIST, NEW),
        api.patch(detail(product), {"price": "1.00"}),
        api.delete(detail(product)),
    ]

    for response in answers:
        assert_error(response, 403, "permission_denied")
    assert Product.objects.count() == 1
    assert events() == []


def test_anonymous_writes_are_401(anonymous):
    assert_error(anonymous.post(LIST, NEW), 401, "not_authenticated")


@pytest.mark.parametrize("role", ["catalogue_manager", "admin"])
def test_catalogue_managers_and_admins_create(as_role, role):
    assert as_role(role).post(LIST, NEW).status_code == 201


# -- create -----------------------------------------------------------------------------------


def test_create_answers_201_with_the_product_and_announces_it(manager):
    category = CategoryFactory()

    response = manager.post(
        LIST,
        {
            **NEW,
            "description": "Enamel.",
            "currency": "USD",
            "category": str(category.pk),
            "attributes": {"colour": "blue", "capacity_ml": 350},
        },
    )

    assert response.status_code == 201, response.content
    product = Product.objects.get()
    body = response.json()
    assert body == {
        "id": str(product.pk),
        "sku": "MUG-BLUE",
        "name": "Blue Mug",
        "slug": "blue-mug",
        "description": "Enamel.",
        "price": "12.50",
        "currency": "USD",
        "category": str(category.pk),
        "is_active": True,
        "attributes": {"colour": "blue", "capacity_ml": 350},
        "images": [],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert response["Location"] == f"http://testserver/api/v1/products/{product.pk}/"
    assert events() == [
        (
            "product.created",
            {
                "product_id": str(product.pk),
                "sku": "MUG-BLUE",
                "name": "Blue Mug",
                "price": "12.50",
                "currency": "USD",
                "is_active": True,
            },
        )
    ]


def test_create_defaults(manager):
    body = manager.post(LIST, {"sku": "X-1", "name": "Thing", "price": 3}).json()

    assert (body["price"], body["currency"], body["is_active"], body["category"]) == (
        "3.00",
        "EUR",
        True,
        None,
    )
    assert (body["description"], body["attributes"]) == ("", {})


def test_slugs_are_made_from_the_name_and_never_taken_twice(manager):
    ProductFactory(name="Blue Mug", slug="blue-mug")
    ProductFactory(name="Blue Mug 2", slug="blue-mug-2")

    made = [manager.post(LIST, {**NEW, "sku": f"MUG-{n}"}).json()["slug"] for n in range(2)]

    assert made == ["blue-mug-3", "blue-mug-4"]


def test_a_name_without_letters_gets_its_slug_from_the_sku(manager):
    assert manager.post(LIST, {**NEW, "name": "★★★"}).json()["slug"] == "mug-blue"


def test_a_slug_can_be_chosen(manager):
    assert manager.post(LIST, {**NEW, "slug": "the-mug"}).json()["slug"] == "the-mug"


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"sku": "MUG BLUE"}, {"sku": [SKU_MESSAGE]}),
        ({"sku": "TAKEN"}, {"sku": ["A product with this SKU already exists."]}),
        ({"slug": "taken"}, {"slug": ["A product with this slug already exists."]}),
        (
            {"slug": "0b9c4a66-0c1b-4c0c-9c5e-2f3b5a1c8d7e"},
            {"slug": ["A slug must not look like an id (a UUID)."]},
        ),
        (
            {"slug": "Not A Slug"},
            {
                "slug": [
                    'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
                ]
            },
        ),
        ({"price": "-0.01"}, {"price": ["Ensure this value is greater than or equal to 0."]}),
        ({"price": "1.999"}, {"price": ["Ensure that there are no more than 2 decimal places."]}),
        ({"price": "cheap"}, {"price": ["A valid number is required."]}),
        (
            {"currency": "eur"},
            {"currency": ["Enter an ISO 4217 currency code in capitals, like EUR or USD."]},
        ),
        (
            {"currency": "XYZ"},
            {"currency": ["Enter an ISO 4217 currency code in capitals, like EUR or USD."]},
        ),
        ({"attributes": ["blue"]}, {"attributes": ["Attributes are a JSON object."]}),
        (
            {"attributes": {f"k{n}": n for n in range(51)}},
            {"attributes": ["A product has at most 50 attributes."]},
        ),
        (
            {"category": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
            {
                "category": [
                    'Invalid pk "3fa85f64-5717-4562-b3fc-2c963f66afa6" - object does not exist.'
                ]
            },
        ),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"colour": "blue"}, {"colour": ["This field is not recognised."]}),
    ],
    ids=[
        "sku-with-space",
        "sku-taken",
        "slug-taken",
        "slug-is-a-uuid",
        "slug-not-a-slug",
        "price-negative",
        "price-three-decimals",
        "price-not-a-number",
        "currency-lower-case",
        "currency-not-iso-4217",
        "attributes-not-an-object",
        "attributes-too-many",
        "category-unknown",
        "name-blank",
        "unknown-field",
    ],
)
def test_create_refuses_bad_input_with_the_field_and_stores_nothing(manager, changes, details):
    ProductFactory(sku="TAKEN", slug="taken")

    body = assert_error(manager.post(LIST, {**NEW, **changes}), 400, "validation_error")

    assert body["error"]["details"] == details
    assert Product.objects.count() == 1
    assert events() == []


def test_required_fields(manager):
    body = assert_error(manager.post(LIST, {}), 400, "validation_error")

    assert body["error"]["details"] == {
        "sku": ["This field is required."],
        "name": ["This field is required."],
        "price": ["This field is required."],
    }


def test_output_fields_sent_back_are_ignored(manager):
    response = manager.post(LIST, {**NEW, "id": "mine", "images": [], "created_at": "now"})

    assert response.status_code == 201
    assert response.json()["id"] != "mine"


def test_an_idempotency_key_replays_the_first_answer(manager):
    first = manager.post(LIST, NEW, HTTP_IDEMPOTENCY_KEY="create-mug-1")
    again = manager.post(LIST, NEW, HTTP_IDEMPOTENCY_KEY="create-mug-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Product.objects.count() == 1
    assert len(events("product.created")) == 1
    assert IdempotencyKey.objects.count() == 1


# -- update -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "announced"),
    [
        ({"price": "10.00"}, {"price": "10.00", "currency": "EUR"}),
        ({"currency": "GBP"}, {"price": "12.50", "currency": "GBP"}),
        ({"name": "Navy Mug"}, {"name": "Navy Mug"}),
        ({"is_active": False}, {"is_active": False}),
        (
            {"name": "Navy Mug", "price": "11", "is_active": False},
            {"name": "Navy Mug", "price": "11.00", "currency": "EUR", "is_active": False},
        ),
        ({"description": "Now with a lid."}, {}),
        ({"attributes": {"lid": True}}, {}),
    ],
    ids=["price", "currency", "name", "active", "several", "description", "attributes"],
)
def test_an_update_announces_what_changed(manager, changes, announced):
    product = ProductFactory(name="Blue Mug", price=Decimal("12.50"), currency="EUR")

    response = manager.patch(detail(product), {**changes, "reason": "new price list"})

    assert response.status_code == 200, response.content
    assert events() == [
        ("product.updated", {"product_id": str(product.pk), "sku": product.sku, **announced})
    ]
    body = response.json()
    for name, value in changes.items():
        expected = f"{Decimal(value):.2f}" if name == "price" else value
        assert body[name] == expected


def test_an_update_that_changes_nothing_announces_nothing(manager):
    product = ProductFactory(name="Blue Mug", price=Decimal("12.50"))

    response = manager.patch(detail(product), {"name": "Blue Mug", "price": "12.5"})

    assert response.status_code == 200
    assert events() == []


def test_an_update_keeps_the_slug_unless_told(manager):
    product = ProductFactory(name="Blue Mug")

    assert manager.patch(detail(product), {"name": "Navy Mug"}).json()["slug"] == "blue-mug"
    assert manager.patch(detail(product), {"slug": ""}).json()["slug"] == "navy-mug"


def test_the_sku_never_changes(manager):
    product = ProductFactory(sku="MUG-1")

    body = assert_error(manager.patch(detail(product), {"sku": "MUG-2"}), 400, "validation_error")

    assert body["error"]["details"] == {"sku": ["The SKU cannot change: stock is kept per SKU."]}
    assert Product.objects.get().sku == "MUG-1"


def test_an_update_by_slug_and_of_an_inactive_product(manager):
    product = ProductFactory(slug="old-mug", is_active=False)

    response = manager.patch(f"{LIST}old-mug/", {"is_active": True})

    assert response.status_code == 200
    product.refresh_from_db()
    assert product.is_active is True


def test_an_update_refuses_bad_values_and_changes_nothing(manager):
    product = ProductFactory(price=Decimal("12.50"))

    body = assert_error(
        manager.patch(detail(product), {"price": "-1", "name": "New"}), 400, "validation_error"
    )

    assert body["error"]["details"] == {
        "price": ["Ensure this value is greater than or equal to 0."]
    }
    product.refresh_from_db()
    assert product.price == Decimal("12.50")
    assert events() == []


def test_an_unknown_product_is_404_before_its_body_is_looked_at(manager):
    assert_error(manager.patch(f"{LIST}no-such/", {"price": "-1"}), 404, "not_found")


# -- delete -----------------------------------------------------------------------------------


def test_delete_is_soft_announced_and_final_for_the_api(manager, customer):
    product = ProductFactory(sku="MUG-1", slug="mug")

    response = manager.delete(detail(product))

    assert response.status_code == 204
    product.refresh_from_db()
    assert product.deleted_at is not None
    assert product.is_active is False
    assert events() == [("product.deleted", {"product_id": str(product.pk), "sku": "MUG-1"})]
    for api in (customer, manager):
        assert_error(api.get(detail(product)), 404, "not_found")
        assert_error(api.get(f"{LIST}mug/"), 404, "not_found")
        assert api.get(LIST).json()["count"] == 0
    assert_error(manager.patch(detail(product), {"price": "1"}), 404, "not_found")
    assert_error(manager.delete(detail(product)), 404, "not_found")
    assert len(events()) == 1


def test_a_deleted_products_sku_is_never_given_again(manager):
    product = ProductFactory(sku="MUG-1")
    manager.delete(detail(product))

    body = assert_error(manager.post(LIST, {**NEW, "sku": "MUG-1"}), 400, "validation_error")

    assert body["error"]["details"] == {"sku": ["A product with this SKU already exists."]}
