"""The kit's tables, in every service's own database: outbox, inbox, dead letters, idempotency."""

from __future__ import annotations

import uuid

from django.db import models


class OutboxMessage(models.Model):
    """A message written in the same transaction as the change it announces; relayed on commit
    and swept later if the relay could not reach the broker."""

    class Kind(models.TextChoices):
        EVENT = "event", "event"
        COMMAND = "command", "command"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="Celery task name")
    routing_key = models.CharField(max_length=200)
    exchange = models.CharField(max_length=200, blank=True)
    envelope = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_pending_idx",
                condition=models.Q(published_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.id}"


class ProcessedMessage(models.Model):
    """The inbox: a message id a handler has applied, written in the handler's transaction."""

    message_id = models.UUIDField()
    handler = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message_id", "handler"], name="processed_once")
        ]
        indexes = [models.Index(fields=["processed_at"], name="processed_at_idx")]  # retention

    def __str__(self) -> str:
        return f"{self.handler} {self.message_id}"


class DeadLetter(models.Model):
    """A message this service could not apply after its retries, or refused as malformed."""

    class Reason(models.TextChoices):
        FAILED = "failed", "handler kept failing"
        INVALID = "invalid", "payload broke its schema"
        FORBIDDEN = "forbidden_sender", "sent by a service not allowed to send it"
        UNKNOWN_VERSION = "unknown_version", "a major version this service does not know"

    id = models.BigAutoField(primary_key=True)
    message_id = models.CharField(max_length=64, db_index=True)
    task = models.CharField(max_length=200)
    queue = models.CharField(max_length=200)
    envelope = models.JSONField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    error = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.task} {self.message_id} ({self.reason})"


class IdempotencyKey(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key``, kept per caller."""

    caller = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_per_caller")
        ]

    def __str__(self) -> str:
        return f"{self.caller}:{self.key}"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """The trail is written once: a bulk update or delete is refused like a row's."""

    def update(self, **kwargs: object) -> int:
        raise PermissionError("audit entries are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are never deleted")


class AuditEntry(models.Model):
    """One staff action that changed money, stock, prices or roles: who, when, what and why
    (``service_kit.audit.audit_record``). Written once, never changed nor deleted."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=254, db_index=True, help_text="The staff member's email.")
    action = models.CharField(max_length=64, help_text="refund, price_change, restock, role_grant…")
    target = models.CharField(max_length=200, help_text="What it changed, for people.")
    target_url = models.CharField(max_length=500, blank=True, help_text="Its page in the admin.")
    reason = models.CharField(max_length=500, help_text="Why, in the staff member's words.")
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("audit entries are never changed")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are never deleted")
