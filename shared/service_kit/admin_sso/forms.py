"""The admin's sign-in form: email, password and an optional one-time code."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError

from .credentials import credential_checker
from .identity import SignInRefused, admit

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


class AdminLoginForm(forms.Form):
    """Used by the admin's login view (``AdminSite.login_form``): the credentials go to the
    service's :class:`~.credentials.CredentialChecker`, the identity through :func:`~.admit`,
    and the user signed in is the checker's (a shadow user outside auth_service)."""

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp = forms.CharField(
        label="One-time code",
        required=False,
        max_length=10,
        help_text="From your authenticator app. Required for payment managers and admins.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user_cache: AbstractBaseUser | None = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        checker = credential_checker()
        try:
            identity = checker.verify(
                self.request,
                email=email.strip().lower(),
                password=password,
                otp=(cleaned.get("otp") or "").strip(),
            )
            admit(identity)
        except SignInRefused as exc:
            logger.info("admin_sso.refused", extra={"reason": exc.code})
            raise ValidationError(exc.message, code=exc.code) from None
        user = checker.user_for(identity)
        user.admin_sso_identity = identity  # type: ignore[attr-defined]  # read by sessions.on_user_logged_in
        self.user_cache = user
        return cleaned

    def get_user(self) -> AbstractBaseUser | None:
        return self.user_cache
