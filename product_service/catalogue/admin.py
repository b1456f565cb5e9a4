"""The catalogue admin. Every change made here goes through catalogue.services, exactly like the
API's: the same rules, the same events (``product.created`` / ``updated`` / ``deleted``) and the
same cache invalidation. That covers the change form, the changelist's list editing (Django
calls ``save_model`` for each changed row), the image inline, the bulk actions and deletion
(soft: a deleted product is shown only under the "deleted" filter, read-only).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.html import format_html

from service_kit.api import ApplicationError
from service_kit.audit import REASON_MISSING

from . import selectors, services
from .images import image_check
from .models import Category, Product, ProductImage

#: The fields of the product form handed to product_create.
CREATE_FIELDS = ("sku", *services.PRODUCT_FIELDS)


def _copy_saved(saved, obj) -> None:
    """The admin goes on with its own instance (log entry, redirect, inlines): give it the
    saved row's values."""
    for field in type(saved)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _error_messages(exc: ApplicationError) -> list[str]:
    details = getattr(exc, "details", {}) or {}
    found = [
        str(m) for messages_ in details.values() if isinstance(messages_, list) for m in messages_
    ]
    return found or [str(exc.detail)]


# -- categories -----------------------------------------------------------------------------------


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["name", "slug", "parent"]

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if (
            parent is not None
            and self.instance.pk is not None
            and self.instance.pk in selectors.category_ancestor_ids(category_id=parent.pk)
        ):
            raise forms.ValidationError(
                "A category cannot be placed below itself or its subcategories."
            )
        return parent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("name", "slug", "parent")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = services.category_update(category_id=obj.pk, changes=changes)
        else:
            saved = services.category_create(
                name=form.cleaned_data["name"],
                slug=form.cleaned_data.get("slug") or "",
                parent=form.cleaned_data.get("parent"),
            )
        _copy_saved(saved, obj)

    def delete_model(self, request, obj):
        services.category_delete(category_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for category in queryset:
            services.category_delete(category_id=category.pk)


# -- products -------------------------------------------------------------------------------------


class DeletedFilter(admin.SimpleListFilter):
    """Live products unless asked otherwise: deleted ones are history, not stock in trade."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not deleted",
        }
        for value, title in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class ProductImageInlineForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ["file", "alt", "position"]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if "file" not in self.changed_data:
            return upload
        if not self.instance._state.adding:
            raise forms.ValidationError("Add a new image instead of replacing this one's file.")
        try:
            image_check(
                upload=upload,
                max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
                max_side=settings.PRODUCT_IMAGE_MAX_DIMENSION,
            )
        except ApplicationError as exc:
            raise forms.ValidationError(_error_messages(exc)) from None
        return upload


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageInlineForm
    extra = 0
    fields = ("preview", "file", "alt", "position", "width", "height", "size")
    readonly_fields = ("preview", "width", "height", "size")

    @admin.display(description="preview")
    def preview(self, image: ProductImage) -> str:
        if image._state.adding or not image.file:
            return "-"
        return format_html(
            '<a href="{0}"><img src="{0}" alt="{1}" style="max-height: 80px; max-width: 120px">'
            "</a>",
            image.file.url,
            image.alt,
        )


class ProductAdminForm(forms.ModelForm):
    """The change form asks why when the price or currency changes (the audit trail)."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Required when the price or currency changes: why (kept in the audit trail).",
    )

    class Meta:
        model = Product
        fields = ("price", "currency")  # the admin's own fields win

    def clean(self):
        cleaned = super().clean() or self.cleaned_data
        # only a valid new price needs a reason (an invalid one is refused for itself)
        repriced = {"price", "currency"} & set(self.changed_data) & set(cleaned)
        if not self.instance._state.adding and repriced and not cleaned.get("reason", "").strip():
            self.add_error("reason", REASON_MISSING)
        return cleaned


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = (
        "sku",
        "name",
        "price",
        "currency",
        "category",
        "is_active",
        "updated_at",
        "deleted_at",
    )
    list_display_links = ("sku", "name")
    # The price changes on the change form only, where the reason is asked.
    list_editable = ("is_active",)
    list_filter = (DeletedFilter, "is_active", "category")
    list_select_related = ("category",)
    search_fields = ("sku", "name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    fields = (
        "sku",
        "name",
        "slug",
        "category",
        "price",
        "currency",
        "reason",
        "is_active",
        "description",
        "attributes",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    inlines = [ProductImageInline]
    actions = ["activate", "deactivate"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ("created_at", "updated_at", "deleted_at")
        # Stock is kept per SKU: it is set once.
        return ("sku", *readonly) if obj is not None else readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_deleted:
            return False  # history: shown, not edited
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_deleted:
            return False
        return super().has_delete_permission(request, obj)

    def get_changelist_form(self, request, **kwargs):
        base = super().get_changelist_form(request, **kwargs)

        class ChangelistForm(base):  # type: ignore[misc,valid-type]  # made at run time
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if self.instance.is_deleted:  # listed under the "deleted" filter: read-only
                    for field in self.fields.values():
                        field.disabled = True

        return ChangelistForm

    # -- every write through the services ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.PRODUCT_FIELDS
            }
            saved = services.product_update(
                product_id=obj.pk,
                changes=changes,
                actor=request.user.email or str(request.user),
                reason=form.cleaned_data.get("reason"),
            )
        else:
            data = {
                name: form.cleaned_data[name] for name in CREATE_FIELDS if name in form.cleaned_data
            }
            data["slug"] = data.get("slug") or ""
            data["attributes"] = data.get("attributes") or {}
            saved = services.product_create(**data)
        _copy_saved(saved, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        product = form.instance
        formset.save(commit=False)  # sorts the rows into new, changed and deleted
        for image in formset.deleted_objects:
            services.product_image_delete(product_id=product.pk, image_id=image.pk)
        for image, changed in formset.changed_objects:
            services.product_image_update(
                image_id=image.pk,
                alt=image.alt if "alt" in changed else None,
                position=image.position if "position" in changed else None,
            )
        new = {id(image) for image in formset.new_objects}
        for inline_form in formset.forms:
            if id(inline_form.instance) in new:
                services.product_image_add(
                    product_id=product.pk,
                    upload=inline_form.cleaned_data["file"],
                    alt=inline_form.cleaned_data.get("alt") or "",
                )
        return None

    def delete_model(self, request, obj):
        services.product_delete(product_id=obj.pk)

    def delete_queryset(self, request, queryset: QuerySet[Product]):
        for product_id in queryset.filter(deleted_at__isnull=True).values_list("pk", flat=True):
            services.product_delete(product_id=product_id)

    @admin.action(description="Activate the selected products", permissions=["change"])
    def activate(self, request, queryset: QuerySet[Product]):
        self._set_active(request, queryset, is_active=True)

    @admin.action(description="Deactivate the selected products", permissions=["change"])
    def deactivate(self, request, queryset: QuerySet[Product]):
        self._set_active(request, queryset, is_active=False)

    def _set_active(self, request, queryset: QuerySet[Product], *, is_active: bool) -> None:
        ids = list(queryset.filter(deleted_at__isnull=True).values_list("pk", flat=True))
        changed = services.products_set_active(product_ids=ids, is_active=is_active)
        state = "activated" if is_active else "deactivated"
        noun = "product" if changed == 1 else "products"
        self.message_user(request, f"{changed} {noun} {state}.", messages.SUCCESS)
