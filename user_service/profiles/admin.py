from django.contrib import admin
from django.db import transaction

from . import services
from .models import Address, Profile


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    fields = (
        "name",
        "line1",
        "line2",
        "city",
        "region",
        "postal_code",
        "country",
        "phone",
        "is_default",
    )


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("email", "first_name", "last_name")
    # The id and email are auth_service's, the avatar goes through the API's checks, erasure
    # comes from auth_service's event.
    readonly_fields = ("user_id", "email", "avatar", "erased_at", "created_at", "updated_at")
    fields = (
        "user_id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "preferences",
        "avatar",
        "is_active",
        "erased_at",
        "created_at",
        "updated_at",
    )
    inlines = [AddressInline]

    def has_add_permission(self, request) -> bool:
        # Profiles are made from auth_service's user.registered event, with auth_service's id.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting here would skip erasure (avatar files, tombstone); erase in auth_service.
        return False

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            super().save_formset(request, form, formset, change)
            if formset.model is Address:
                # Deleting the default inline leaves none: promote one, as the API does.
                services.address_default_ensure(user_id=form.instance.pk)
