from django.contrib import admin

from .models import SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Public halves and states only: private keys never leave their mounted folder."""

    list_display = ("kid", "state", "created_at", "activated_at", "retired_at")
    list_filter = ("state",)
    readonly_fields = ("kid", "public_pem", "state", "created_at", "activated_at", "retired_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
