"""Input parsing and output shapes of the catalogue API; the rules themselves live in services
(and in the model's validators, which both use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from .models import SLUG_MAX_LENGTH, Category, Product, ProductImage
from .validators import validate_attributes, validate_currency, validate_not_uuid, validate_sku


class StrictSerializerMixin(serializers.Serializer):
    """Refuse fields the resource does not have, instead of silently ignoring a typo.

    Fields of the resource's output (``output_fields``) may be sent back as read and are
    ignored, except those named in ``refused_fields``, which the client clearly means to change
    and cannot.
    """

    output_fields: frozenset[str] = frozenset()
    refused_fields: Mapping[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = set(self.fields) | self.output_fields
            errors = {
                name: [self.refused_fields.get(name, "This field is not recognised.")]
                for name in sorted(data)
                if name not in known or name in self.refused_fields
            }
            if errors:
                raise serializers.ValidationError(errors)
            data = {name: value for name, value in data.items() if name in self.fields}
        return super().to_internal_value(data)


# -- output -----------------------------------------------------------------------------------


def absolute_url(url: str, request) -> str:
    # Local storage gives a path; clients need somewhere to go. (S3 gives a full URL.)
    if url.startswith("/") and request is not None:
        return request.build_absolute_uri(url)
    return url


class ProductImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "alt"]
        read_only_fields = fields

    def get_url(self, image: ProductImage) -> str:
        return absolute_url(image.file.url, self.context.get("request"))


class ProductSerializer(serializers.ModelSerializer):
    """A product as the API answers it (docs/api.md#resources, catalogue)."""

    images = ProductImageSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "slug",
            "description",
            "price",
            "currency",
            "category",
            "is_active",
            "attributes",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]
        read_only_fields = fields


# -- input ------------------------------------------------------------------------------------


class ProductWriteSerializer(StrictSerializerMixin, serializers.Serializer):
    """``POST /api/v1/products/``; ``PATCH`` takes any of it but the SKU."""

    output_fields = frozenset(ProductSerializer.Meta.fields)

    sku = serializers.CharField(max_length=64, validators=[validate_sku])
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(
        max_length=SLUG_MAX_LENGTH,
        required=False,
        allow_blank=True,
        validators=[validate_not_uuid],
        help_text="Made from the name when not given (or blank).",
    )
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.CharField(
        required=False, validators=[validate_currency], help_text="ISO 4217; EUR when not given."
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)
    attributes = serializers.JSONField(
        required=False,
        validators=[validate_attributes],
        help_text="A JSON object; a PATCH replaces it whole.",
    )


class ProductUpdateSerializer(ProductWriteSerializer):
    refused_fields = {"sku": "The SKU cannot change: stock is kept per SKU."}

    sku = None  # type: ignore[assignment]  # DRF: None drops the inherited field
    reason = serializers.CharField(
        max_length=500,
        required=False,
        write_only=True,
        help_text="Why: required when the price or currency changes (kept in the audit trail).",
    )


class CategoryWriteSerializer(StrictSerializerMixin, serializers.Serializer):
    output_fields = frozenset(CategorySerializer.Meta.fields)

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(
        max_length=SLUG_MAX_LENGTH,
        required=False,
        allow_blank=True,
        validators=[validate_not_uuid],
        help_text="Made from the name when not given (or blank).",
    )
    # A declared field, which DRF's metaclass takes off the class: no clash with Field.parent
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Category.objects.all(), required=False, allow_null=True
    )


class ProductImageUploadSerializer(serializers.Serializer):
    """``POST /api/v1/products/{id}/images/`` (multipart): the picture and its text."""

    image = serializers.FileField(allow_empty_file=False, help_text="JPEG, PNG or WebP.")
    alt = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
