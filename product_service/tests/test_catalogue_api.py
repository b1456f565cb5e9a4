import pytest

from platform_tools.testing.contract import assert_error

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_product_list_shows_active_products_with_the_contract_fields(client):
    shown = ProductFactory(name="Blue Mug", price="9.90")
    ProductFactory(is_active=False)

    body = client.get("/api/v1/products/").json()

    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": str(shown.id),
            "sku": shown.sku,
            "name": "Blue Mug",
            "slug": "blue-mug",
            "description": "",
            "price": "9.90",
            "currency": "EUR",
            "category": str(shown.category_id),
            "is_active": True,
            "attributes": {},
            "images": [],
            "created_at": shown.created_at.isoformat().replace("+00:00", "Z"),
            "updated_at": shown.updated_at.isoformat().replace("+00:00", "Z"),
        }
    ]


@pytest.mark.parametrize("key", ["id", "slug"])
def test_product_detail_by_id_or_slug(client, key):
    product = ProductFactory(name="Red Kettle")
    response = client.get(f"/api/v1/products/{getattr(product, key)}/")
    assert response.status_code == 200
    assert response.json()["sku"] == product.sku


def test_unknown_product_is_not_found(client):
    assert_error(client.get("/api/v1/products/no-such-product/"), 404, "not_found")


def test_categories_are_listed(client):
    parent = CategoryFactory(name="Kitchen", slug="kitchen")
    CategoryFactory(name="Mugs", slug="mugs", parent=parent)
    results = client.get("/api/v1/categories/").json()["results"]
    assert [(c["slug"], c["parent"]) for c in results] == [
        ("kitchen", None),
        ("mugs", str(parent.id)),
    ]
