"""``GET /api/v1/products/``: filters, search, ordering and pagination, with the exact products
each answer holds, for customers and for catalogue staff."""

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from catalogue.models import Product
from django.utils import timezone

from platform_tools.testing.contract import assert_error

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


@pytest.fixture
def catalogue():
    """Six live products (two inactive) and a deleted one, created a minute apart in this
    order; returns the ids by SKU and the categories."""
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    mugs = CategoryFactory(name="Mugs", slug="mugs", parent=kitchen)
    tea = CategoryFactory(name="Tea", slug="tea")
    rows = [
        ("MUG-BLUE", "Blue Mug", "12.50", mugs, True, "Enamel, holds 350 ml"),
        ("MUG-RED", "Red Mug", "9.90", mugs, True, "Porcelain"),
        ("KETTLE", "Steel Kettle", "49.00", kitchen, True, "For every hob"),
        ("TEA-GREEN", "Green Tea", "8.50", tea, True, "Loose leaf, from Japan"),
        ("TEA-BLACK", "Black Tea", "7.90", tea, False, "Assam"),
        ("MUG-OLD", "Old Mug", "5.00", mugs, False, "Chipped"),
        ("MUG-GONE", "Gone Mug", "11.00", mugs, True, "Deleted"),
    ]
    start = timezone.now() - timedelta(hours=1)
    ids = {}
    for minute, (sku, name, price, category, active, description) in enumerate(rows):
        product = ProductFactory(
            sku=sku,
            name=name,
            price=Decimal(price),
            category=category,
            is_active=active,
            description=description,
        )
        Product.objects.filter(pk=product.pk).update(created_at=start + timedelta(minutes=minute))
        ids[sku] = str(product.pk)
    Product.objects.filter(sku="MUG-GONE").update(deleted_at=timezone.now(), is_active=False)
    return {"ids": ids, "kitchen": kitchen, "mugs": mugs, "tea": tea}


def listed(api, params, catalogue) -> list[str]:
    """The SKUs of the answer's results, in order (checked against the exact ids)."""
    response = api.get(LIST, params)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    by_id = {value: key for key, value in catalogue["ids"].items()}
    skus = [by_id[result["id"]] for result in results]
    assert [result["id"] for result in results] == [catalogue["ids"][sku] for sku in skus]
    return skus


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"category": "kitchen"}, ["KETTLE", "MUG-RED", "MUG-BLUE"]),  # subcategories too
        ({"category": "mugs"}, ["MUG-RED", "MUG-BLUE"]),
        ({"category": "tea"}, ["TEA-GREEN"]),
        ({"min_price": "9.90"}, ["KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"max_price": "9.90"}, ["TEA-GREEN", "MUG-RED"]),
        ({"min_price": "9", "max_price": "13"}, ["MUG-RED", "MUG-BLUE"]),
        ({"min_price": "12.50", "max_price": "12.50"}, ["MUG-BLUE"]),
        ({"search": "mug"}, ["MUG-RED", "MUG-BLUE"]),
        ({"search": "JAPAN"}, ["TEA-GREEN"]),  # the description, any case
        ({"search": "tea-gr"}, ["TEA-GREEN"]),  # the SKU
        ({"search": "red mug"}, ["MUG-RED"]),  # every word
        ({"search": "mug kettle"}, []),
        ({"ordering": "price"}, ["TEA-GREEN", "MUG-RED", "MUG-BLUE", "KETTLE"]),
        ({"ordering": "-price"}, ["KETTLE", "MUG-BLUE", "MUG-RED", "TEA-GREEN"]),
        ({"ordering": "name"}, ["MUG-BLUE", "TEA-GREEN", "MUG-RED", "KETTLE"]),
        ({"ordering": "-created_at"}, ["TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"is_active": "true"}, ["TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"is_active": "false"}, []),  # customers only ever see active products
        ({"category": "mugs", "min_price": "10", "ordering": "price"}, ["MUG-BLUE"]),
        ({"category": "kitchen", "search": "steel", "max_price": "50"}, ["KETTLE"]),
    ],
    ids=lambda value: (
        "&".join(f"{k}={v}" for k, v in value.items()) or "none"
        if isinstance(value, dict)
        else None
    ),
)
def test_customers_filter_the_active_products(customer, catalogue, params, expected):
    assert listed(customer, params, catalogue) == expected


def test_anonymous_callers_see_what_customers_see(anonymous, catalogue):
    assert listed(anonymous, {}, catalogue) == ["TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["MUG-OLD", "TEA-BLACK", "TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"is_active": "false"}, ["MUG-OLD", "TEA-BLACK"]),
        ({"is_active": "0"}, ["MUG-OLD", "TEA-BLACK"]),
        ({"is_active": "true"}, ["TEA-GREEN", "KETTLE", "MUG-RED", "MUG-BLUE"]),
        ({"category": "mugs", "is_active": "false"}, ["MUG-OLD"]),
        ({"ordering": "price", "category": "tea"}, ["TEA-BLACK", "TEA-GREEN"]),
    ],
)
@pytest.mark.parametrize("role", ["catalogue_manager", "support", "admin"])
def test_catalogue_staff_also_see_inactive_products(as_role, catalogue, role, params, expected):
    assert listed(as_role(role), params, catalogue) == expected


def test_a_service_identity_sees_active_products_only(client, mint, catalogue):
    from .helpers import Api

    order_service = Api(client, mint.headers(client_id="order", scopes=["payments:charge"]))

    assert listed(order_service, {"is_active": "false"}, catalogue) == []


def test_ids_fetch_a_batch_and_skip_what_the_caller_may_not_see(customer, manager, catalogue):
    ids = catalogue["ids"]
    wanted = ",".join([ids["MUG-BLUE"], ids["TEA-BLACK"], ids["KETTLE"], ids["MUG-GONE"]])

    assert listed(customer, {"ids": wanted}, catalogue) == ["KETTLE", "MUG-BLUE"]
    # Staff see the inactive one; nobody sees the deleted one.
    assert listed(manager, {"ids": wanted}, catalogue) == ["TEA-BLACK", "KETTLE", "MUG-BLUE"]


def test_ids_take_a_hundred_with_spaces_and_a_trailing_comma(customer, catalogue):
    ids = catalogue["ids"]
    wanted = [ids["MUG-RED"], *(str(uuid4()) for _ in range(98)), ids["TEA-GREEN"]]

    assert listed(customer, {"ids": " , ".join(wanted) + ","}, catalogue) == [
        "TEA-GREEN",
        "MUG-RED",
    ]


def test_sku_finds_that_one_product_exactly_and_only_what_the_caller_may_see(
    anonymous, manager, catalogue
):
    assert listed(anonymous, {"sku": "MUG-RED"}, catalogue) == ["MUG-RED"]
    # Exact: no prefix, no other case, no inactive or deleted product for the public.
    for sku in ("MUG", "mug-red", "TEA-BLACK", "MUG-GONE", "NOPE"):
        assert listed(anonymous, {"sku": sku}, catalogue) == [], sku
    assert listed(manager, {"sku": "TEA-BLACK"}, catalogue) == ["TEA-BLACK"]
    assert listed(manager, {"sku": "MUG-GONE"}, catalogue) == []


def test_a_sku_longer_than_any_is_refused(anonymous):
    body = assert_error(anonymous.get(LIST, {"sku": "A" * 65}), 400, "validation_error")
    assert set(body["error"]["details"]) == {"sku"}


def test_pages_hold_page_size_products_and_link_to_each_other(customer, catalogue):
    ids = catalogue["ids"]

    first = customer.get(LIST, {"page_size": "3", "ordering": "price"}).json()
    second = customer.get(LIST, {"page_size": "3", "ordering": "price", "page": "2"}).json()

    assert first["count"] == second["count"] == 4
    assert [r["id"] for r in first["results"]] == [
        ids["TEA-GREEN"],
        ids["MUG-RED"],
        ids["MUG-BLUE"],
    ]
    assert [r["id"] for r in second["results"]] == [ids["KETTLE"]]
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/products/?ordering=price&page=2&page_size=3"
    assert second["previous"] == "http://testserver/api/v1/products/?ordering=price&page_size=3"
    assert second["next"] is None


def test_a_page_past_the_end_is_not_found(customer, catalogue):
    assert_error(customer.get(LIST, {"page_size": "2", "page": "3"}), 404, "not_found")


def test_page_size_is_at_most_a_hundred(customer):
    ProductFactory.create_batch(101)

    body = customer.get(LIST, {"page_size": "500"}).json()

    assert (body["count"], len(body["results"])) == (101, 100)
    assert len(customer.get(LIST).json()["results"]) == 20


def test_equal_values_are_ordered_by_sku_so_pages_never_overlap(customer):
    for sku in ("C-3", "A-1", "B-2"):
        ProductFactory(sku=sku, name="Same", price=Decimal("5.00"))

    for ordering in ("price", "-price", "name"):
        pages = [
            customer.get(LIST, {"ordering": ordering, "page_size": "1", "page": str(page)}).json()
            for page in (1, 2, 3)
        ]
        assert [page["results"][0]["sku"] for page in pages] == ["A-1", "B-2", "C-3"], ordering


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"category": "no-such-category"}, {"category": ["No category has this id or slug."]}),
        ({"category": str(uuid4())}, {"category": ["No category has this id or slug."]}),
        ({"min_price": "cheap"}, {"min_price": ["Enter a number."]}),
        ({"min_price": "NaN"}, {"min_price": ["Enter a number."]}),
        (
            {"min_price": "-1"},
            {"min_price": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"max_price": "1.234"},
            {"max_price": ["Ensure that there are no more than 2 decimal places."]},
        ),
        ({"min_price": "10", "max_price": "5"}, {"max_price": ["Must not be below min_price."]}),
        ({"is_active": "maybe"}, {"is_active": ["Must be true or false."]}),
        (
            {"ordering": "colour"},
            {"ordering": ["Select a valid choice. colour is not one of the available choices."]},
        ),
        ({"ids": "7,not-an-id"}, {"ids": ["Not a product id: '7', 'not-an-id'."]}),
        (
            {"ids": ",".join(str(uuid4()) for _ in range(101))},
            {"ids": ["At most 100 ids at once, not 101."]},
        ),
        (
            {"search": "x" * 201},
            {"search": ["Ensure this value has at most 200 characters (it has 201)."]},
        ),
        (
            {"is_active": "maybe", "min_price": "cheap"},
            {"is_active": ["Must be true or false."], "min_price": ["Enter a number."]},
        ),
    ],
    ids=[
        "unknown-category-slug",
        "unknown-category-id",
        "price-not-a-number",
        "price-nan",
        "price-negative",
        "price-three-decimals",
        "min-above-max",
        "active-not-boolean",
        "unknown-ordering",
        "ids-not-uuids",
        "ids-over-a-hundred",
        "search-too-long",
        "two-bad-values",
    ],
)
def test_bad_filter_values_are_400_with_the_field_details(anonymous, params, details):
    body = assert_error(anonymous.get(LIST, params), 400, "validation_error")

    assert body["error"] == {
        "code": "validation_error",
        "message": "The request is not valid.",
        "details": details,
    }


def test_unknown_query_parameters_are_ignored(customer, catalogue):
    assert listed(customer, {"utm_source": "mail", "category": "tea"}, catalogue) == ["TEA-GREEN"]
