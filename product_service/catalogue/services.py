"""Writes to the catalogue: products, their images, categories.

Every write, from the API, the admin or a command, goes through here, so that each one
- is checked by the same rules (the model's validators and unique constraints, plus the rules
  below), refused with ``400 validation_error`` and the offending fields;
- announces itself through the outbox in its own transaction (``product.created``,
  ``product.updated`` with what changed, ``product.deleted``);
- makes every cached catalogue answer out of date once it commits (``cache.catalogue_changed``),
  before it returns.

Deleting a product is soft: the row stays (orders and stock name it and its SKU is never reused),
marked ``deleted_at`` and inactive, and it is gone from the API for everyone. A SKU never changes
(stock is kept per SKU in inventory_service).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import Storage
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone

from service_kit.audit import audit_record, reason_required
from service_kit.console import admin_href
from service_kit.messaging import publish_event

from .cache import catalogue_changed
from .errors import (
    CategoryInUse,
    CategoryNotFound,
    ImageNotFound,
    ImageTooLarge,
    InvalidInput,
    ProductNotFound,
    TooManyImages,
)
from .images import image_check
from .models import Category, Product, ProductImage, unique_slug
from .selectors import category_ancestor_ids, product_image_get

logger = logging.getLogger(__name__)

#: What a product's update may change (the SKU never changes).
PRODUCT_FIELDS = (
    "name",
    "slug",
    "description",
    "price",
    "currency",
    "category",
    "is_active",
    "attributes",
)
#: The fields ``product.updated`` carries when they changed (its schema's own).
EVENT_FIELDS = ("name", "price", "currency", "is_active")
CATEGORY_FIELDS = ("name", "slug", "parent")
#: How many images one product may have.
PRODUCT_IMAGES_MAX = 20
#: Tries at a made-up slug that a concurrent writer took first.
_SLUG_TRIES = 3


# -- rules ----------------------------------------------------------------------------------------


def _details(exc: DjangoValidationError) -> dict[str, list[str]]:
    details: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        details["non_field_errors" if field == NON_FIELD_ERRORS else field] = list(messages)
    return details


def _validate(instance: models.Model, *, only: Iterable[str] | None = None) -> None:
    """The model's own rules (validators, uniqueness, constraints) → 400 with field details;
    ``only`` limits them to the fields being changed."""
    exclude = None
    if only is not None:
        names = {field.name for field in instance._meta.fields}
        exclude = names - set(only)
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise InvalidInput(details=_details(exc)) from None


def money(amount: Decimal) -> str:
    return format(amount, ".2f")


def product_event_data(product: Product, fields: Iterable[str] = EVENT_FIELDS) -> dict[str, Any]:
    data: dict[str, Any] = {"product_id": str(product.pk), "sku": product.sku}
    for name in fields:
        value = getattr(product, name)
        data[name] = money(value) if name == "price" else value
    return data


def _save_new(instance: Product | Category, *, slug_made: bool, text: str, fallback: str) -> None:
    """Insert ``instance``; a concurrent writer may take its unique values first: a made-up
    slug is made again, anything else is the client's 400."""
    model = type(instance)
    for attempt in range(_SLUG_TRIES):
        try:
            with transaction.atomic():
                instance.save(force_insert=True)
            return
        except IntegrityError:
            _validate(instance)  # names the field a concurrent writer took (sku, slug …)
            if not slug_made or attempt == _SLUG_TRIES - 1:
                raise
            instance.slug = unique_slug(model, text, fallback=fallback)


# -- products -------------------------------------------------------------------------------------


def product_create(
    *,
    sku: str,
    name: str,
    price: Decimal,
    currency: str = "EUR",
    slug: str = "",
    description: str = "",
    category: Category | None = None,
    is_active: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Product:
    """Add a product; its slug is made from the name when not given (``-2``, ``-3`` … when
    taken). Emits ``product.created``."""
    product = Product(
        sku=sku,
        name=name,
        slug=slug,
        description=description,
        price=Decimal(price).quantize(Decimal("0.01")),
        currency=currency,
        category=category,
        is_active=is_active,
        attributes=dict(attributes or {}),
    )
    slug_made = not slug
    if slug_made:
        product.slug = unique_slug(Product, name, fallback=sku)
    _validate(product)
    with transaction.atomic():
        _save_new(product, slug_made=slug_made, text=name, fallback=sku)
        publish_event("product.created", product_event_data(product))
        catalogue_changed()
    logger.info("product.created", extra={"product_id": str(product.pk), "sku": product.sku})
    return product


def _locked_product(product_id: uuid.UUID) -> Product:
    product = (
        Product.objects.select_for_update().filter(pk=product_id, deleted_at__isnull=True).first()
    )
    if product is None:
        raise ProductNotFound()
    return product


def _product_apply(product: Product, changes: Mapping[str, Any]) -> list[str]:
    """Set the changes that differ from the product's values; the names of those."""
    unknown = sorted(set(changes) - set(PRODUCT_FIELDS))
    if unknown:
        message = {"sku": "The SKU cannot change: stock is kept per SKU."}
        raise InvalidInput(
            details={f: [message.get(f, "This field cannot be changed.")] for f in unknown}
        )
    changed = []
    for name, value in changes.items():
        if name == "price":
            value = Decimal(value).quantize(Decimal("0.01"))
        elif name == "slug" and not value:
            value = unique_slug(
                Product, changes.get("name", product.name), fallback=product.sku, exclude=product.pk
            )
        elif name == "attributes":
            value = dict(value)
        if name == "category":
            differs = product.category_id != (value.pk if value is not None else None)
        else:
            differs = getattr(product, name) != value
        if differs:
            setattr(product, name, value)
            changed.append(name)
    return changed


def product_update(
    *,
    product_id: uuid.UUID,
    changes: Mapping[str, Any],
    actor: str = "",
    reason: str | None = None,
) -> Product:
    """Change a live product. Emits ``product.updated`` with the product's id and SKU and, of
    name, price, currency and active, those that changed (price and currency together: an
    amount means nothing without its currency). Nothing changed: no event, no invalidation.
    A price (or currency) change needs the staff member's ``reason`` (400 without one) and is
    recorded in the audit trail with ``actor``."""
    with transaction.atomic():
        product = _locked_product(product_id)
        before = product_event_data(product)
        changed = _product_apply(product, changes)
        if not changed:
            return product
        _validate(product, only=changed)
        repriced = bool({"price", "currency"} & set(changed))
        if repriced:
            reason = reason_required(reason)
        product.save(update_fields=[*changed, "updated_at"])
        fields = [f for f in EVENT_FIELDS if f in changed]
        if repriced:
            fields = [f for f in EVENT_FIELDS if f in changed or f in ("price", "currency")]
            audit_record(
                actor=actor,
                action="price_change",
                target=f"product {product.sku}",
                target_url=admin_href("product", "catalogue", "product", product.pk),
                reason=reason or "",
                details={
                    "price_before": f"{before['price']} {before['currency']}",
                    "price": f"{money(product.price)} {product.currency}",
                },
            )
        publish_event("product.updated", product_event_data(product, fields))
        catalogue_changed()
    logger.info(
        "product.updated",
        extra={
            "product_id": str(product.pk),
            "changed": changed,
            "price_before": before["price"],
            "price": money(product.price),
        },
    )
    return product


def product_delete(*, product_id: uuid.UUID) -> None:
    """Soft delete: the product leaves the API for good (see the module's doc).
    Emits ``product.deleted``."""
    with transaction.atomic():
        product = _locked_product(product_id)
        product.deleted_at = timezone.now()
        product.is_active = False
        product.save(update_fields=["deleted_at", "is_active", "updated_at"])
        publish_event("product.deleted", {"product_id": str(product.pk), "sku": product.sku})
        catalogue_changed()
    logger.info("product.deleted", extra={"product_id": str(product.pk), "sku": product.sku})


def products_set_active(*, product_ids: Iterable[uuid.UUID], is_active: bool) -> int:
    """Activate or deactivate many live products at once (the admin's bulk actions), each
    with its own ``product.updated``; returns how many changed."""
    changed = 0
    with transaction.atomic():
        for product_id in product_ids:
            product = _locked_product(product_id)
            if product.is_active != is_active:
                product_update(product_id=product.pk, changes={"is_active": is_active})
                changed += 1
    return changed


# -- images ---------------------------------------------------------------------------------------


def _image_storage() -> Storage:
    # Django's default storage (S3 when S3_BUCKET is set, the local disk otherwise), looked up
    # on each use so that settings changes are honoured.
    return ProductImage._meta.get_field("file").storage


def _file_delete_quietly(storage: Storage, name: str) -> None:
    # After the commit the change has happened: a storage failure must not undo it. The file
    # is left behind and logged.
    try:
        storage.delete(name)
    except Exception:  # any backend, any failure: logged with its traceback
        logger.exception("product_image.delete_failed", extra={"file": name})


def product_image_add(*, product_id: uuid.UUID, upload: Any, alt: str = "") -> ProductImage:
    """Check and store a picture of a live product, after its others.

    The size is checked first (413), then the content (400); nothing is stored when either
    fails. The file goes to storage before the product is locked (an upload to S3 must not hold
    a database lock) and is deleted again if the row cannot be written after all.
    """
    product = Product.objects.filter(pk=product_id, deleted_at__isnull=True).first()
    if product is None:
        raise ProductNotFound()
    if product.images.count() >= PRODUCT_IMAGES_MAX:
        raise TooManyImages(details={"max_images": PRODUCT_IMAGES_MAX})
    checked = image_check(
        upload=upload,
        max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
        max_side=settings.PRODUCT_IMAGE_MAX_DIMENSION,
        too_large=ImageTooLarge,
    )
    image_id = uuid.uuid4()
    storage = _image_storage()
    # Stored with the type its bytes are, whatever the client declared.
    upload.content_type = checked.content_type
    name = storage.save(f"products/{product.pk}/{image_id.hex}.{checked.extension}", upload)
    try:
        with transaction.atomic():
            product = _locked_product(product.pk)
            images = ProductImage.objects.filter(product=product)
            if images.count() >= PRODUCT_IMAGES_MAX:
                raise TooManyImages(details={"max_images": PRODUCT_IMAGES_MAX})
            last = images.aggregate(last=Max("position"))["last"]
            image = ProductImage(
                id=image_id,
                product=product,
                file=name,
                alt=alt,
                position=0 if last is None else last + 1,
                width=checked.width,
                height=checked.height,
                size=checked.size,
            )
            _validate(image, only=["alt"])
            image.save(force_insert=True)
            catalogue_changed()
    except BaseException:
        _file_delete_quietly(storage, name)
        raise
    logger.info(
        "product_image.added", extra={"product_id": str(product.pk), "image_id": str(image.pk)}
    )
    return image


def product_image_update(
    *, image_id: uuid.UUID, alt: str | None = None, position: int | None = None
) -> ProductImage:
    """Change an image's text or place (the admin's inline)."""
    with transaction.atomic():
        image = ProductImage.objects.select_for_update().filter(pk=image_id).first()
        if image is None:
            raise ImageNotFound()
        changed = []
        for name, value in (("alt", alt), ("position", position)):
            if value is not None and getattr(image, name) != value:
                setattr(image, name, value)
                changed.append(name)
        if changed:
            _validate(image, only=changed)
            image.save(update_fields=changed)
            catalogue_changed()
    return image


def product_image_delete(*, product_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Remove a picture of a live product; its file is deleted once that is committed."""
    with transaction.atomic():
        product = _locked_product(product_id)
        image = product_image_get(product=product, image_id=image_id)
        name, storage = image.file.name, _image_storage()
        image.delete()
        catalogue_changed()
        transaction.on_commit(lambda: _file_delete_quietly(storage, name))
    logger.info(
        "product_image.deleted", extra={"product_id": str(product_id), "image_id": str(image_id)}
    )


# -- categories -----------------------------------------------------------------------------------


def _check_parent(category: Category, parent: Category | None) -> None:
    if parent is not None and category.pk in category_ancestor_ids(category_id=parent.pk):
        raise InvalidInput(
            details={"parent": ["A category cannot be placed below itself or its subcategories."]}
        )


def category_create(*, name: str, slug: str = "", parent: Category | None = None) -> Category:
    """Add a category; its slug is made from the name when not given."""
    category = Category(name=name, slug=slug, parent=parent)
    slug_made = not slug
    if slug_made:
        category.slug = unique_slug(Category, name, fallback="category")
    _validate(category)
    with transaction.atomic():
        _save_new(category, slug_made=slug_made, text=name, fallback="category")
        catalogue_changed()
    logger.info("category.created", extra={"category_id": str(category.pk)})
    return category


def category_update(*, category_id: uuid.UUID, changes: Mapping[str, Any]) -> Category:
    """Rename, re-slug or move a category (never below itself)."""
    unknown = sorted(set(changes) - set(CATEGORY_FIELDS))
    if unknown:
        raise InvalidInput(details={f: ["This field cannot be changed."] for f in unknown})
    with transaction.atomic():
        category = Category.objects.select_for_update().filter(pk=category_id).first()
        if category is None:
            raise CategoryNotFound()
        changed = []
        for name, value in changes.items():
            if name == "slug" and not value:
                value = unique_slug(
                    Category,
                    changes.get("name", category.name),
                    fallback="category",
                    exclude=category.pk,
                )
            if name == "parent":
                _check_parent(category, value)
            if name == "parent":
                differs = category.parent_id != (value.pk if value is not None else None)
            else:
                differs = getattr(category, name) != value
            if differs:
                setattr(category, name, value)
                changed.append(name)
        if changed:
            _validate(category, only=changed)
            category.save(update_fields=changed)
            catalogue_changed()
    return category


def category_delete(*, category_id: uuid.UUID) -> None:
    """Delete a category that has no live products and no subcategories (409 otherwise).
    Deleted products that were in it keep no category."""
    with transaction.atomic():
        category = Category.objects.select_for_update().filter(pk=category_id).first()
        if category is None:
            raise CategoryNotFound()
        products = Product.objects.filter(category=category)
        live = products.filter(deleted_at__isnull=True).count()
        children = category.children.count()
        if live or children:
            raise CategoryInUse(details={"products": live, "subcategories": children})
        products.update(category=None)
        category.delete()
        catalogue_changed()
    logger.info("category.deleted", extra={"category_id": str(category_id)})
