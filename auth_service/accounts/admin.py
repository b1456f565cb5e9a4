from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.response import TemplateResponse

from . import services
from .forms import PasswordSetForm, ServiceClientForm, UserChangeForm, UserCreationForm
from .models import ServiceClient, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Roles are groups (one per staff role; ``customer`` is every non-staff account's). Saving
    goes through the services: other services hear of new accounts, changed names and emails,
    and deactivations, and a deactivated account's tokens are refused everywhere."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = PasswordSetForm
    ordering = ["email"]
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "groups", ("erased_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "reason"),
                "description": "A staff member's roles are the groups of that name.",
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "erased_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined", "erased_at")
    actions = ["deactivate"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.erased_at is not None:  # nothing to change, nothing to explain
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "reason"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.erased_at is not None:  # nothing left to edit
            return [field.name for field in User._meta.fields] + ["groups", "user_permissions"]
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:  # what the person held, for the audit trail once the groups are saved
            obj._roles_before = services.user_access_of(User.objects.get(pk=obj.pk))
        services.user_admin_save(user=obj, changed=form.changed_data, created=not change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(form.instance, "_roles_before", None)
        if before is not None:
            services.user_access_audit(
                user=form.instance,
                before=before,
                actor=request.user.email,
                reason=form.cleaned_data.get("reason", ""),
            )

    @admin.action(
        description="Deactivate the selected users (their tokens stop working)",
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        users = queryset.filter(is_active=True).exclude(pk=request.user.pk)
        count = 0
        for user in users:
            services.user_deactivate(user=user)
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)


@admin.register(ServiceClient)
class ServiceClientAdmin(admin.ModelAdmin):
    """Secrets are stored hashed: one is shown once, when made (adding a client, or the "reset
    secret" action), and never again."""

    form = ServiceClientForm
    list_display = ("client_id", "scope_list", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("client_id", "description")
    readonly_fields = ("created_at",)
    actions = ["reset_secret"]

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return " ".join(obj.scopes)

    def get_readonly_fields(self, request, obj=None):
        # Tokens already issued name the client: it keeps its id.
        return ("client_id", "created_at") if obj is not None else ("created_at",)

    def save_model(self, request, obj, form, change):
        if change:
            services.service_client_save(client=obj, changed=form.changed_data)
        else:
            obj._new_secret = services.service_client_set_secret(client=obj)

    def delete_model(self, request, obj):
        services.service_client_delete(client=obj)

    def delete_queryset(self, request, queryset):
        for client in queryset:
            services.service_client_delete(client=client)

    def response_add(self, request, obj, post_url_continue=None):
        return self._secrets_page(request, [(obj.client_id, obj._new_secret)])

    @admin.action(description="Reset the secret of the selected clients", permissions=["change"])
    def reset_secret(self, request, queryset):
        made = [
            (client.client_id, services.service_client_reset_secret(client=client))
            for client in queryset
        ]
        return self._secrets_page(request, made)

    def _secrets_page(self, request, made):
        context = {
            **self.admin_site.each_context(request),
            "title": "New client secrets",
            "opts": self.opts,
            "secrets": made,
        }
        response = TemplateResponse(request, "admin/accounts/serviceclient/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response
