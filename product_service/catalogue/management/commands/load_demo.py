"""A small demo catalogue for a newcomer's first ``make up``: four categories, twelve products.

Idempotent: a category is known by its slug and a product by its SKU; a second run adds nothing.
Products are made through ``product_create``, so ``product.created`` goes out for each and
inventory_service learns the SKUs. Refused outside the embedded profile unless ``--force``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalogue.models import Category, Product
from catalogue.services import category_create, product_create

#: (slug, name, parent slug)
CATEGORIES = [
    ("kitchen", "Kitchen", None),
    ("mugs-and-cups", "Mugs & Cups", "kitchen"),
    ("tea-and-coffee", "Tea & Coffee", None),
    ("stationery", "Stationery", None),
]

#: (sku, name, price in EUR, category slug, attributes, description)
PRODUCTS: list[tuple[str, str, str, str, dict[str, Any], str]] = [
    (
        "DEMO-MUG-BLUE",
        "Blue Enamel Mug",
        "12.50",
        "mugs-and-cups",
        {"colour": "blue", "material": "enamel", "capacity_ml": 350},
        "A camp-fire classic: light, unbreakable, blue with a white rim.",
    ),
    (
        "DEMO-MUG-RED",
        "Red Enamel Mug",
        "12.50",
        "mugs-and-cups",
        {"colour": "red", "material": "enamel", "capacity_ml": 350},
        "The blue mug's red sibling.",
    ),
    (
        "DEMO-MUG-WHITE",
        "White Porcelain Mug",
        "9.90",
        "mugs-and-cups",
        {"colour": "white", "material": "porcelain", "capacity_ml": 300},
        "Plain, dishwasher safe, stacks well.",
    ),
    (
        "DEMO-CUP-ESPRESSO",
        "Espresso Cups, Set of Two",
        "18.00",
        "mugs-and-cups",
        {"colour": "black", "material": "stoneware", "capacity_ml": 80, "pieces": 2},
        "Thick-walled cups that keep an espresso hot.",
    ),
    (
        "DEMO-KETTLE-STEEL",
        "Stainless Steel Kettle",
        "49.00",
        "kitchen",
        {"material": "stainless steel", "capacity_l": 1.7},
        "For every hob, induction included.",
    ),
    (
        "DEMO-TEAPOT-IRON",
        "Cast Iron Teapot",
        "39.90",
        "kitchen",
        {"material": "cast iron", "capacity_l": 0.8},
        "Enamelled inside, with a removable strainer.",
    ),
    (
        "DEMO-COFFEE-BEANS",
        "Single Origin Coffee Beans, 250 g",
        "11.90",
        "tea-and-coffee",
        {"origin": "Ethiopia", "roast": "medium", "weight_g": 250},
        "Whole beans, roasted this month.",
    ),
    (
        "DEMO-TEA-SENCHA",
        "Sencha Green Tea, 100 g",
        "8.50",
        "tea-and-coffee",
        {"origin": "Japan", "weight_g": 100},
        "Loose-leaf green tea, grassy and fresh.",
    ),
    (
        "DEMO-TEA-EARLGREY",
        "Earl Grey Tea, 100 g",
        "7.90",
        "tea-and-coffee",
        {"origin": "India", "weight_g": 100},
        "Black tea with bergamot.",
    ),
    (
        "DEMO-NOTEBOOK-A5",
        "Dotted Notebook A5",
        "14.00",
        "stationery",
        {"size": "A5", "pages": 192, "ruling": "dotted"},
        "Lay-flat binding, 100 g/m² paper.",
    ),
    (
        "DEMO-PEN-FOUNTAIN",
        "Fountain Pen",
        "29.00",
        "stationery",
        {"nib": "medium", "colour": "black"},
        "Steel nib, takes standard cartridges.",
    ),
    (
        "DEMO-PENCIL-SET",
        "Graphite Pencils, Set of Six",
        "6.50",
        "stationery",
        {"grades": ["2H", "HB", "B", "2B", "4B", "6B"], "pieces": 6},
        "From hard to soft, for writing and sketching.",
    ),
]


class Command(BaseCommand):
    help = "Create the demo catalogue (idempotent) and print how much was created."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Also outside the embedded profile."
        )

    def handle(self, *args, force: bool = False, **options):
        if settings.PLATFORM_PROFILE != "embedded" and not force:
            raise CommandError("The demo catalogue is for the embedded profile (or use --force).")
        categories_created = products_created = 0
        with transaction.atomic():
            by_slug = {category.slug: category for category in Category.objects.all()}
            for slug, name, parent in CATEGORIES:
                if slug not in by_slug:
                    by_slug[slug] = category_create(
                        name=name, slug=slug, parent=by_slug[parent] if parent else None
                    )
                    categories_created += 1
            known = set(
                Product.objects.filter(sku__in=[p[0] for p in PRODUCTS]).values_list(
                    "sku", flat=True
                )
            )
            for sku, name, price, category, attributes, description in PRODUCTS:
                if sku in known:
                    continue
                product_create(
                    sku=sku,
                    name=name,
                    price=Decimal(price),
                    currency="EUR",
                    category=by_slug[category],
                    attributes=attributes,
                    description=description,
                )
                products_created += 1
        self.stdout.write(
            f"demo catalogue: {categories_created} categories and {products_created} products "
            f"created ({len(CATEGORIES) - categories_created} and "
            f"{len(PRODUCTS) - products_created} were there already)"
        )
