from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from .messaging.consumer import NotReplayable, replay
from .models import AuditEntry, DeadLetter, OutboxMessage
from .redaction import redacted

if TYPE_CHECKING:  # ModelAdmin takes its model as a type parameter in the stubs only
    AuditEntryAdminBase = admin.ModelAdmin[AuditEntry]
    DeadLetterAdminBase = admin.ModelAdmin[DeadLetter]
    OutboxMessageAdminBase = admin.ModelAdmin[OutboxMessage]
else:
    AuditEntryAdminBase = DeadLetterAdminBase = OutboxMessageAdminBase = admin.ModelAdmin


def envelope_display(envelope: Any) -> str:
    """A message envelope as every admin shows it: pretty JSON with secret fields redacted (a row
    may still hold a card token until its command is published)."""
    text = json.dumps(redacted(envelope), indent=2, sort_keys=True, default=str)
    return format_html("<pre>{}</pre>", text)


class EnvelopeAdminMixin:
    """Shows ``envelope`` through :func:`envelope_display`, never as the raw field."""

    @admin.display(description="envelope")
    def envelope_shown(self, obj: DeadLetter | OutboxMessage) -> str:
        return envelope_display(obj.envelope)


def _fields_but_envelope(model: type[Model]) -> tuple[str, ...]:
    return tuple("envelope_shown" if f.name == "envelope" else f.name for f in model._meta.fields)


@admin.register(DeadLetter)
class DeadLetterAdmin(EnvelopeAdminMixin, DeadLetterAdminBase):
    list_display = (
        "created_at",
        "task",
        "reason",
        "message_id",
        "attempts",
        "replayed_at",
        "replay_count",
    )
    list_filter = ("reason", "task")
    search_fields = ("message_id", "task", "error")
    fields = readonly_fields = _fields_but_envelope(DeadLetter)
    actions = ["replay_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay the selected messages on their queue", permissions=["change"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        count = 0
        for letter in queryset:
            try:
                replay(letter)
            except NotReplayable as exc:
                self.message_user(
                    request,
                    f"{letter.message_id} cannot be replayed: {exc}. Ask its sender to send it "
                    "again (orders: retry the stuck step).",
                    messages.WARNING,
                )
                continue
            count += 1
        self.message_user(request, f"Replayed {count} message(s).", messages.SUCCESS)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(EnvelopeAdminMixin, OutboxMessageAdminBase):
    list_display = ("created_at", "name", "kind", "published_at", "attempts")
    list_filter = ("kind", "name")
    search_fields = ("id", "name")
    fields = readonly_fields = _fields_but_envelope(OutboxMessage)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(AuditEntryAdminBase):
    """The audit trail: read by staff, written by the service only; nobody changes or deletes a
    row, superusers included."""

    list_display = ("at", "actor", "action", "target_shown", "reason")
    list_filter = ("action", "at")
    search_fields = ("=actor", "target", "reason")
    date_hierarchy = "at"
    fields = readonly_fields = (
        "at",
        "actor",
        "action",
        "target_shown",
        "reason",
        "details",
    )
    actions = None

    @admin.display(description="target")
    def target_shown(self, obj: AuditEntry) -> str:
        if obj.target_url.startswith("/admin/"):
            return format_html('<a href="{}">{}</a>', obj.target_url, obj.target)
        return obj.target

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
