"""Categories: a tree with unique slugs; public list, writes for catalogue managers."""

import pytest
from catalogue.models import Category, Product
from django.utils import timezone

from platform_tools.testing.contract import assert_error

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/categories/"


def detail(category) -> str:
    return f"{LIST}{category.pk}/"


def test_create_makes_the_slug_from_the_name_and_dedupes_it(manager):
    CategoryFactory(name="Mugs", slug="mugs")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")

    response = manager.post(LIST, {"name": "Mugs", "parent": str(kitchen.pk)})

    assert response.status_code == 201, response.content
    category = Category.objects.get(slug="mugs-2")
    assert response.json() == {
        "id": str(category.pk),
        "name": "Mugs",
        "slug": "mugs-2",
        "parent": str(kitchen.pk),
    }
    assert response["Location"] == f"http://testserver/api/v1/categories/{category.pk}/"


def test_a_category_is_read_by_id_or_slug(anonymous):
    category = CategoryFactory(name="Tea", slug="tea")

    assert anonymous.get(detail(category)).json()["slug"] == "tea"
    assert anonymous.get(f"{LIST}tea/").json()["id"] == str(category.pk)
    assert_error(anonymous.get(f"{LIST}coffee/"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"name": "Tea", "slug": "taken"}, {"slug": ["A category with this slug already exists."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "Tea", "colour": "green"}, {"colour": ["This field is not recognised."]}),
    ],
    ids=["slug-taken", "name-blank", "unknown-field"],
)
def test_bad_categories_are_refused(manager, body, details):
    CategoryFactory(slug="taken")

    body = assert_error(manager.post(LIST, body), 400, "validation_error")

    assert body["error"]["details"] == details


def test_a_category_cannot_move_below_itself(manager):
    root = CategoryFactory(slug="root")
    child = CategoryFactory(slug="child", parent=root)
    grandchild = CategoryFactory(slug="grandchild", parent=child)

    for new_parent in (root, grandchild):
        body = assert_error(
            manager.patch(detail(root), {"parent": str(new_parent.pk)}), 400, "validation_error"
        )
        assert body["error"]["details"] == {
            "parent": ["A category cannot be placed below itself or its subcategories."]
        }
    moved = manager.patch(detail(grandchild), {"parent": None, "name": "Top"})
    assert moved.json()["parent"] is None


def test_a_category_with_products_or_subcategories_is_not_deleted(manager):
    parent = CategoryFactory()
    CategoryFactory(parent=parent)
    ProductFactory(category=parent)

    body = assert_error(manager.delete(detail(parent)), 409, "conflict")

    assert body["error"]["details"] == {"products": 1, "subcategories": 1}


def test_an_empty_category_is_deleted_and_its_deleted_products_forget_it(manager, anonymous):
    category = CategoryFactory()
    gone = ProductFactory(category=category, deleted_at=timezone.now(), is_active=False)

    assert manager.delete(detail(category)).status_code == 204

    assert Category.objects.count() == 0
    assert Product.objects.get(pk=gone.pk).category is None
    assert anonymous.get(LIST).json()["count"] == 0


@pytest.mark.parametrize("role", ["customer", "support"])
def test_only_catalogue_managers_change_categories(as_role, role):
    api = as_role(role)
    category = CategoryFactory()

    for response in (
        api.post(LIST, {"name": "New"}),
        api.patch(detail(category), {"name": "Renamed"}),
        api.delete(detail(category)),
    ):
        assert_error(response, 403, "permission_denied")


def test_a_new_category_is_on_the_next_read(manager, anonymous, django_capture_on_commit_callbacks):
    CategoryFactory(name="Kitchen")
    assert anonymous.get(LIST).json()["count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        manager.post(LIST, {"name": "Tea"})

    assert [c["name"] for c in anonymous.get(LIST).json()["results"]] == ["Kitchen", "Tea"]


def test_moving_a_category_moves_its_products_in_the_category_filter(
    manager, anonymous, django_capture_on_commit_callbacks
):
    kitchen = CategoryFactory(slug="kitchen")
    mugs = CategoryFactory(slug="mugs")
    mug = ProductFactory(category=mugs)
    assert anonymous.get("/api/v1/products/", {"category": "kitchen"}).json()["count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        manager.patch(detail(mugs), {"parent": str(kitchen.pk)})

    results = anonymous.get("/api/v1/products/", {"category": "kitchen"}).json()["results"]
    assert [r["id"] for r in results] == [str(mug.pk)]
