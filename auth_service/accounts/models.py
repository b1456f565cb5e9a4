import uuid
from typing import Any, ClassVar, cast

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.dispatch import Signal
from django.utils import timezone

#: Sent with ``user_ids`` after a bulk update changed their staff or superuser flag (a save sends
#: post_save); accounts.signals ends their sessions, as for a save. Models never call services.
access_updated = Signal()


class UserQuerySet(models.QuerySet):
    def update(self, **fields):
        """A bulk change of the staff or superuser flag sends no post_save: it sends
        :data:`access_updated` instead."""
        if not fields.keys() & {"is_staff", "is_superuser"}:
            return super().update(**fields)
        user_ids = list(self.values_list("pk", flat=True))
        count = super().update(**fields)
        access_updated.send(sender=self.model, user_ids=user_ids)
        return count


_UserManagerBase = BaseUserManager.from_queryset(UserQuerySet)


class UserManager(_UserManagerBase):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        # The base from_queryset() makes does not carry the model type: this manager's is User
        user = cast("User", self.model(email=self.normalize_email(email).lower(), **fields))
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """The platform's one identity: email as login, a UUID as public id.

    An erased account keeps its row (and id) with every personal field scrubbed: the id stays
    the key of its refresh tokens, the admin log and the events other services received.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    erased_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the account holder erased it."
    )

    objects = UserManager()
    #: The access fields as they were before a save (accounts.signals), None for a new user.
    _access_before: tuple[Any, ...] | None

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class ServiceClient(models.Model):
    """A service identity (order_service, say): it trades its id and secret for a short-lived
    access token carrying its scopes. The secret is stored hashed, like a password."""

    client_id = models.SlugField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=256, editable=False)
    scopes = models.JSONField(default=list, blank=True, help_text="e.g. payments:charge")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client_id"]

    def __str__(self) -> str:
        return self.client_id


class IssuedRefreshToken(models.Model):
    """A refresh token auth_service issued, by its ``jti``: never the token itself, which would
    be as good as a password to whoever reads the row. Each is good for one refresh; the tokens
    descended from one sign-in share a ``family``, which a second use of any of them revokes
    whole (RFC 9700, refresh token reuse detection)."""

    jti = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.UUIDField(db_index=True, help_text="The sign-in this token descends from.")
    access_jti = models.CharField(
        max_length=64, blank=True, help_text="The access token issued with it."
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, help_text="When it was refreshed.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["expires_at"], name="refresh_token_expiry")]

    def __str__(self) -> str:
        return self.jti


class StaffSession(models.Model):
    """One sign-in of a staff member across every admin (single sign-on): opened by a sign-in at
    any admin, ended by a sign-out in any admin, a deactivation or a password change. Its state
    is published in the shared cache for the admins to check at each request
    (``service_kit.admin_sso.staff_sessions``); its id is the admins' secret, never shown."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="staff_sessions")
    amr = models.JSONField(default=list, help_text="How the person proved who they are.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "ended_at"], name="staff_session_open")]

    def __str__(self) -> str:
        return f"staff session of {self.user_id}"
