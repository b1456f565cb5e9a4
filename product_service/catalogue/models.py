import uuid

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.text import slugify

from .validators import validate_attributes, validate_currency, validate_not_uuid, validate_sku

SLUG_MAX_LENGTH = 200


def unique_slug(model: type[models.Model], text: str, *, fallback: str, exclude=None) -> str:
    """A slug made from ``text`` that no row of ``model`` has yet: ``blue-mug``, then
    ``blue-mug-2``, ``blue-mug-3`` … (from ``fallback`` when ``text`` has no letters or digits).
    Two writers may still pick the same one at once: the unique index decides (see services)."""
    base = slugify(text)[:SLUG_MAX_LENGTH].strip("-") or slugify(fallback)[:SLUG_MAX_LENGTH]
    base = base or "item"
    try:
        uuid.UUID(base)
        base = f"{base[: SLUG_MAX_LENGTH - 2]}-x"  # a slug must never read as an id
    except ValueError:
        pass
    rows = model._default_manager.exclude(pk=exclude) if exclude else model._default_manager.all()
    taken = set(rows.filter(slug__startswith=base).values_list("slug", flat=True))
    candidate, number = base, 1
    while True:
        # A candidate cut short to fit no longer starts with base: ask the database about it.
        fresh = candidate not in taken and (
            candidate.startswith(base) or not rows.filter(slug=candidate).exists()
        )
        if fresh:
            return candidate
        number += 1
        suffix = f"-{number}"
        candidate = f"{base[: SLUG_MAX_LENGTH - len(suffix)]}{suffix}"


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        blank=True,
        validators=[validate_not_uuid],
        error_messages={"unique": "A category with this slug already exists."},
        help_text="Made from the name when left empty.",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Category, self.name, fallback="category", exclude=self.pk)
        super().save(*args, **kwargs)


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_sku],
        error_messages={"unique": "A product with this SKU already exists."},
        help_text="Stock is kept per SKU: it cannot change once the product exists.",
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        blank=True,
        validators=[validate_not_uuid],
        error_messages={"unique": "A product with this slug already exists."},
        help_text="Made from the name when left empty.",
    )
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[validate_currency],
        help_text="ISO 4217, like EUR.",
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    is_active = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True, validators=[validate_attributes])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A deleted product is gone from the API for everyone; its row stays (orders and stock
    # name it, and its SKU is never given to another product).
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="product_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Product, self.name, fallback=self.sku, exclude=self.pk)
        super().save(*args, **kwargs)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def product_image_upload_to(image: "ProductImage", filename: str) -> str:
    # The service names stored files itself (products/<product id>/<image id>.<ext>, the
    # extension from the checked content); this is only the fallback for a file set otherwise.
    return f"products/{image.product_id}/{filename}"


class ProductImage(models.Model):
    """A picture of a product, stored in the default storage (S3 or the local disk)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=product_image_upload_to, max_length=255)
    alt = models.CharField(max_length=200, blank=True, help_text="Text for screen readers.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Smaller comes first.")
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    size = models.PositiveIntegerField(editable=False, help_text="Bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "created_at", "id"]

    def __str__(self) -> str:
        return self.alt or self.file.name
