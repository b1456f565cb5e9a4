import uuid

from django.db import models


class Note(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    text = models.CharField(max_length=200)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class NoteSeen(models.Model):
    """One row per note.created this service applied (the test counts effects with it)."""

    note_id = models.UUIDField()
    message_id = models.UUIDField()
    seen_at = models.DateTimeField(auto_now_add=True)


class Switch(models.Model):
    """Test switches in the consumer's own database (``fail``: handlers raise)."""

    name = models.CharField(max_length=50, primary_key=True)
    on = models.BooleanField(default=True)
