"""The catalogue admin: search, filters, list editing, image inline, bulk actions and deletion,
each change made through the services (the same events as the API's)."""

from decimal import Decimal

import pytest
from catalogue.models import Product, ProductImage
from django.core.files.uploadedfile import SimpleUploadedFile

from .factories import CategoryFactory, ProductFactory
from .helpers import events, image_bytes

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalogue/product/"


def change_page(product) -> str:
    return f"{CHANGELIST}{product.pk}/change/"


def listed(admin_client, params=None) -> list[str]:
    response = admin_client.get(CHANGELIST, params or {})
    assert response.status_code == 200
    return sorted(p.sku for p in response.context["cl"].result_list)


def product_form(product=None, **changes) -> dict[str, str]:
    data = {
        "name": "Blue Mug",
        "slug": "",
        "category": "",
        "price": "12.50",
        "currency": "EUR",
        "is_active": "on",
        "description": "",
        "attributes": "{}",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    if product is not None:
        data.update(
            name=product.name,
            slug=product.slug,
            category=str(product.category_id or ""),
            price=str(product.price),
            currency=product.currency,
            description=product.description,
        )
        if not product.is_active:
            del data["is_active"]
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_products_are_searchable_by_sku_name_and_description(admin_client):
    ProductFactory(sku="MUG-BLUE", name="Blue Mug", description="enamel")
    ProductFactory(sku="TEA-1", name="Green Tea", description="from Japan")

    assert listed(admin_client, {"q": "mug-bl"}) == ["MUG-BLUE"]
    assert listed(admin_client, {"q": "green"}) == ["TEA-1"]
    assert listed(admin_client, {"q": "japan"}) == ["TEA-1"]


def test_products_are_filtered_by_category_active_and_deleted(admin_client):
    mugs = CategoryFactory()
    ProductFactory(sku="A", category=mugs)
    ProductFactory(sku="B", category=mugs, is_active=False)
    ProductFactory(sku="C")
    gone = ProductFactory(sku="D", category=mugs)
    Product.objects.filter(pk=gone.pk).update(deleted_at="2026-01-01T00:00:00Z", is_active=False)

    assert listed(admin_client) == ["A", "B", "C"]  # deleted ones only when asked
    assert listed(admin_client, {"category__id__exact": str(mugs.pk)}) == ["A", "B"]
    assert listed(admin_client, {"is_active__exact": "0"}) == ["B"]
    assert listed(admin_client, {"deleted": "yes"}) == ["D"]
    assert listed(admin_client, {"deleted": "all"}) == ["A", "B", "C", "D"]


def test_list_editing_goes_through_the_services(admin_client):
    mug = ProductFactory(sku="MUG-1", price=Decimal("12.50"))
    tea = ProductFactory(sku="TEA-1", price=Decimal("8.00"))
    data = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    # The list shows the newest first: the tea, then the mug.
    for index, (product, price, active) in enumerate([(tea, "8.00", "on"), (mug, "9.90", None)]):
        data[f"form-{index}-id"] = str(product.pk)
        data[f"form-{index}-price"] = price
        if active:
            data[f"form-{index}-is_active"] = active

    response = admin_client.post(CHANGELIST, data)

    assert response.status_code == 302
    # The price is not list-editable (its change form asks why): only the switch moved.
    assert events() == [
        ("product.updated", {"product_id": str(mug.pk), "sku": "MUG-1", "is_active": False})
    ]
    mug.refresh_from_db()
    assert mug.price == Decimal("12.50")


def test_the_add_form_creates_through_the_services(admin_client):
    category = CategoryFactory()

    response = admin_client.post(
        f"{CHANGELIST}add/",
        product_form(sku="MUG-1", category=str(category.pk), attributes='{"colour": "blue"}'),
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    product = Product.objects.get()
    assert (product.slug, product.attributes, product.category) == (
        "blue-mug",
        {"colour": "blue"},
        category,
    )
    assert events() == [
        (
            "product.created",
            {
                "product_id": str(product.pk),
                "sku": "MUG-1",
                "name": "Blue Mug",
                "price": "12.50",
                "currency": "EUR",
                "is_active": True,
            },
        )
    ]


def test_the_add_form_checks_like_the_api(admin_client):
    ProductFactory(sku="TAKEN")

    response = admin_client.post(
        f"{CHANGELIST}add/", product_form(sku="TAKEN", currency="XYZ", price="-1")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "sku": ["A product with this SKU already exists."],
        "currency": ["Enter an ISO 4217 currency code in capitals, like EUR or USD."],
        "price": ["Ensure this value is greater than or equal to 0."],
    }
    assert events() == []


def test_the_change_form_keeps_the_sku_and_announces_changes(admin_client):
    mug = ProductFactory(sku="MUG-1", name="Blue Mug")

    response = admin_client.post(change_page(mug), product_form(mug, sku="HACKED", name="Navy Mug"))

    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.sku, mug.name) == ("MUG-1", "Navy Mug")
    assert events() == [
        ("product.updated", {"product_id": str(mug.pk), "sku": "MUG-1", "name": "Navy Mug"})
    ]


def test_bulk_actions_activate_and_deactivate_with_one_event_per_change(admin_client):
    on = ProductFactory(sku="ON")
    off = ProductFactory(sku="OFF", is_active=False)

    response = admin_client.post(
        CHANGELIST,
        {"action": "deactivate", "_selected_action": [str(on.pk), str(off.pk)]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["1 product deactivated."]
    assert events() == [
        ("product.updated", {"product_id": str(on.pk), "sku": "ON", "is_active": False})
    ]

    admin_client.post(
        CHANGELIST, {"action": "activate", "_selected_action": [str(on.pk), str(off.pk)]}
    )

    assert set(Product.objects.values_list("sku", "is_active")) == {("ON", True), ("OFF", True)}
    assert [data["sku"] for _, data in events()] == ["ON", "OFF", "ON"]


def test_deleting_is_soft_announced_and_leaves_a_read_only_row(admin_client):
    mug = ProductFactory(sku="MUG-1")

    response = admin_client.post(f"{CHANGELIST}{mug.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    mug.refresh_from_db()
    assert mug.deleted_at is not None and mug.is_active is False
    assert events() == [("product.deleted", {"product_id": str(mug.pk), "sku": "MUG-1"})]
    page = admin_client.get(change_page(mug))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert admin_client.post(change_page(mug), product_form(mug, name="X")).status_code == 403
    assert admin_client.get(f"{CHANGELIST}{mug.pk}/delete/").status_code == 403


def test_bulk_delete_goes_through_the_services(admin_client):
    products = [ProductFactory(sku=sku) for sku in ("A", "B")]

    admin_client.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "_selected_action": [str(p.pk) for p in products],
            "post": "yes",
        },
    )

    assert Product.objects.filter(deleted_at__isnull=False).count() == 2
    assert sorted(data["sku"] for _, data in events("product.deleted")) == ["A", "B"]


@pytest.fixture
def local_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_URL = "/media/"
    return tmp_path


def inline_upload(mug, content, name="mug.png", alt="A mug"):
    data = product_form(mug)
    data.update(
        {
            "images-TOTAL_FORMS": "1",
            "images-0-product": str(mug.pk),
            "images-0-file": SimpleUploadedFile(name, content, "image/png"),
            "images-0-alt": alt,
            "images-0-position": "0",
        }
    )
    return data


def test_the_image_inline_checks_stores_and_previews(admin_client, local_media):
    mug = ProductFactory(sku="MUG-1")
    content = image_bytes(size=(20, 10))

    response = admin_client.post(change_page(mug), inline_upload(mug, content))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    image = ProductImage.objects.get()
    assert image.file.name == f"products/{mug.pk}/{image.pk.hex}.png"
    assert (local_media / image.file.name).read_bytes() == content
    assert (image.width, image.height, image.alt, image.position) == (20, 10, "A mug", 0)
    page = admin_client.get(change_page(mug)).content.decode()
    assert f'<img src="/media/{image.file.name}" alt="A mug"' in page


def test_the_image_inline_refuses_what_is_not_an_image(admin_client, local_media):
    mug = ProductFactory()

    response = admin_client.post(change_page(mug), inline_upload(mug, b"not an image"))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors == [{"file": ["Upload a JPEG, PNG or WebP image."]}]
    assert ProductImage.objects.count() == 0
    assert list(local_media.iterdir()) == []


def test_categories_are_created_through_the_services(admin_client):
    response = admin_client.post("/admin/catalogue/category/add/", {"name": "Tea", "slug": ""})

    assert response.status_code == 302
    assert admin_client.get("/admin/catalogue/category/").status_code == 200
    from catalogue.models import Category

    assert Category.objects.get().slug == "tea"
