"""Admin forms: emails kept lower-case and unique whatever their case; scopes as words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError

from service_kit.audit import REASON_MISSING

from . import services
from .models import ServiceClient, User


class _EmailMixin:
    """For ModelForms of users (their cleaned_data and instance)."""

    cleaned_data: dict[str, Any]
    instance: User

    def clean_email(self) -> str:
        email = services.email_normalise(self.cleaned_data["email"])
        if User.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError(services.EMAIL_TAKEN)
        return email


class UserCreationForm(_EmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(_EmailMixin, DjangoUserChangeForm):
    #: What grants or takes away access: a change to any of them asks why (the audit trail).
    ACCESS_FIELDS = frozenset({"groups", "is_staff", "is_superuser"})

    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Required when the roles, staff or superuser status change: why (kept in the "
        "audit trail).",
    )

    class Meta:
        model = User
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.erased_at is not None:  # read-only: nothing to explain
            self.fields.pop("reason", None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.ACCESS_FIELDS & set(self.changed_data) and not cleaned.get("reason", "").strip():
            self.add_error("reason", REASON_MISSING)
        return cleaned


class PasswordSetForm(AdminPasswordChangeForm):
    """Staff set someone's password: like any password change, every session of theirs ends."""

    def save(self, commit: bool = True):
        user = super().save(commit=commit)
        if commit:
            services.user_sessions_end(user=user)
        return user


class ServiceClientForm(forms.ModelForm):
    scopes = forms.CharField(
        required=False,
        help_text="Separated by spaces, e.g. <code>payments:charge users:read</code>.",
    )

    class Meta:
        model = ServiceClient
        fields = ("client_id", "scopes", "description", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["scopes"] = " ".join(self.instance.scopes or [])

    def clean_scopes(self) -> list[str]:
        return services.scopes_clean(self.cleaned_data["scopes"].split())
