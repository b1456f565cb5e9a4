"""Admin forms: emails kept lower-case and unique whatever their case; scopes as words."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError

from . import services
from .models import ServiceClient, User


class _EmailMixin:
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
    class Meta:
        model = User
        fields = "__all__"


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
