"""The admin's sign-in form: email, password and an optional one-time code."""

from __future__ import annotations

import logging

from django import forms
from django.core.exceptions import ValidationError

from .credentials import credential_checker
from .identity import SignInRefused, admit

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

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user_cache = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
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
        user.admin_sso_identity = identity  # recorded in the session once logged in
        self.user_cache = user
        return cleaned

    def get_user(self):
        return self.user_cache
