"""Reads of the catalogue (no side effects).

Who sees what: everybody sees active products; catalogue staff (see :func:`sees_inactive`) also
see inactive ones. A deleted product is seen by nobody through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from .errors import CategoryNotFound, ImageNotFound, ProductNotFound
from .models import Category, Product, ProductImage

#: Staff roles that also see inactive products (``admin`` always does).
INACTIVE_READER_ROLES = ("catalogue_manager", "support")


def sees_inactive(user) -> bool:
    """Whether the caller (a token user, or None for anonymous) sees inactive products."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and not user.is_service
        and user.has_role(*INACTIVE_READER_ROLES)
    )


def _as_uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(key))
    except ValueError:
        return None


def product_list(*, include_inactive: bool = False) -> QuerySet[Product]:
    """Live products (active ones only, unless ``include_inactive``), newest first, with their
    images."""
    products = Product.objects.filter(deleted_at__isnull=True)
    if not include_inactive:
        products = products.filter(is_active=True)
    images = Prefetch(
        "images", queryset=ProductImage.objects.order_by(*(ProductImage._meta.ordering or ()))
    )
    return products.prefetch_related(images).order_by("-created_at", "sku")


def product_get(*, key: str, include_inactive: bool = False) -> Product:
    """A live product by its id or its slug (ProductNotFound when neither matches)."""
    product_id = _as_uuid(key)
    lookup: dict[str, object] = {"pk": product_id} if product_id else {"slug": key}
    product = product_list(include_inactive=include_inactive).filter(**lookup).first()
    if product is None:
        raise ProductNotFound()
    return product


def product_image_get(*, product: Product, image_id: uuid.UUID) -> ProductImage:
    image = ProductImage.objects.filter(product=product, pk=image_id).first()
    if image is None:
        raise ImageNotFound()
    return image


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("name", "slug")


def category_get(*, key: str) -> Category:
    """A category by its id or its slug (CategoryNotFound when neither matches)."""
    category_id = _as_uuid(key)
    lookup: dict[str, object] = {"pk": category_id} if category_id else {"slug": key}
    category = Category.objects.filter(**lookup).first()
    if category is None:
        raise CategoryNotFound()
    return category


def category_descendant_ids(*, category: Category) -> list[uuid.UUID]:
    """The category and every category below it (a catalogue has few: one query, walked here)."""
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, queue = [], [category.pk]
    while queue:
        pk = queue.pop()
        if pk in found:  # a cycle made outside the services: do not loop forever
            continue
        found.append(pk)
        queue.extend(children.get(pk, []))
    return found


def category_ancestor_ids(*, category_id: uuid.UUID | None) -> Iterable[uuid.UUID]:
    """The category and those above it, nearest first."""
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    seen: list[uuid.UUID] = []
    while category_id is not None and category_id not in seen:
        seen.append(category_id)
        category_id = parents.get(category_id)
    return seen
