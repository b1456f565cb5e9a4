import uuid

from django.db import models


def avatar_upload_to(profile: "Profile", filename: str) -> str:
    # Services name the file themselves (a fresh name per upload, so caches and CDNs never serve
    # a replaced avatar); this is only the fallback for a file set some other way.
    return f"avatars/{profile.user_id}/{filename}"


class Profile(models.Model):
    """What user_service holds of a user of auth_service (same UUID, no shared table).

    A row is made by whichever comes first: the ``user.registered`` event, or the user's first
    authenticated request (from the token's claims: id and email), so a client never depends on
    the event's timing. ``registered_at`` says when the event was applied (null until then: the
    event then fills in what the token did not carry, once). ``erased_at`` marks a profile
    anonymised by ``user.erased``: it stays as a tombstone so that a late or redelivered event,
    or a request, can never bring the erased data back.
    """

    user_id = models.UUIDField(primary_key=True)
    # Owned by auth_service (kept in step by its events); not editable here.
    email = models.EmailField(db_index=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    preferences = models.JSONField(default=dict, blank=True)
    avatar = models.FileField(upload_to=avatar_upload_to, max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # When auth_service's user.registered was applied; null while made from a token's claims.
    registered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email or str(self.user_id)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class Address(models.Model):
    """A postal address in a user's address book; exactly one of a user's addresses is default."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The profile's primary key is the auth user's id, so ``user_id`` is that id too.
    user = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField(max_length=150)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = models.CharField(max_length=32, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "created_at", "id"]
        constraints = [
            # The database's half of "one default per user"; the services keep the other half
            # (the first address becomes default, deleting the default promotes another).
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True),
                name="one_default_address_per_user",
                violation_error_message="This user already has a default address.",
            ),
            models.CheckConstraint(
                condition=models.Q(country__regex=r"^[A-Z]{2}$"),
                name="address_country_alpha2",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.line1}, {self.city} ({self.country})"
