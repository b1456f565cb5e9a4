from django.db.models import QuerySet

from .models import Category, Product


def product_list(*, active_only: bool = False) -> QuerySet[Product]:
    products = Product.objects.all()
    return products.filter(is_active=True) if active_only else products


def product_get(*, key: str) -> Product:
    """A product by its id or its slug (404 when neither matches)."""
    from uuid import UUID

    from django.shortcuts import get_object_or_404

    try:
        return get_object_or_404(Product, pk=UUID(key))
    except ValueError:
        return get_object_or_404(Product, slug=key)


def category_list() -> QuerySet[Category]:
    return Category.objects.all()
