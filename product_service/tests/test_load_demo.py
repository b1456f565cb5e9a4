"""``manage.py load_demo``: the demo catalogue, made through the services, once."""

import io

import pytest
from catalogue.models import Category, Product
from django.core.management import CommandError, call_command

from .helpers import events

pytestmark = pytest.mark.django_db


def load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue().strip()


def test_a_second_run_adds_nothing():
    first = load_demo()
    counts = (Category.objects.count(), Product.objects.count(), len(events()))

    second = load_demo()

    assert (
        first == "demo catalogue: 4 categories and 12 products created (0 and 0 were there already)"
    )
    assert second == (
        "demo catalogue: 0 categories and 0 products created (4 and 12 were there already)"
    )
    assert counts == (4, 12, 12)
    assert (Category.objects.count(), Product.objects.count(), len(events())) == counts


def test_every_demo_product_is_announced_and_sensibly_priced():
    load_demo()

    products = Product.objects.order_by("sku")
    assert sorted(data["sku"] for _, data in events("product.created")) == [p.sku for p in products]
    assert all(p.sku.startswith("DEMO-") and p.currency == "EUR" for p in products)
    assert all(1 <= p.price <= 100 and p.is_active and p.category_id for p in products)
    mug = Product.objects.get(sku="DEMO-MUG-BLUE")
    assert (mug.slug, str(mug.price), mug.category.slug, mug.category.parent.slug) == (
        "blue-enamel-mug",
        "12.50",
        "mugs-and-cups",
        "kitchen",
    )


def test_a_partly_loaded_catalogue_is_completed():
    load_demo()
    Product.objects.filter(sku="DEMO-PEN-FOUNTAIN").delete()

    assert load_demo().startswith("demo catalogue: 0 categories and 1 products created")


def test_the_real_profile_needs_force(settings):
    settings.PLATFORM_PROFILE = "real"

    with pytest.raises(CommandError):
        load_demo()
    assert load_demo("--force").startswith("demo catalogue: 4 categories and 12 products")
