from django.db import models


class SigningKey(models.Model):
    """A token signing key. Its public half is served in the JWKS; the private half lives only in
    ``JWT_SIGNING_KEYS_DIR`` (a mounted secret), as ``<kid>.pem``."""

    class State(models.TextChoices):
        ACTIVE = "active", "signs new tokens"
        VERIFYING = "verifying", "verifies tokens it signed, signs none"
        RETIRED = "retired", "retired: tokens it signed are refused"

    kid = models.CharField(max_length=64, primary_key=True)
    public_pem = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.state})"
