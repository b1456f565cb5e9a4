import json

from django.contrib import admin, messages
from django.utils.html import format_html

from .messaging.consumer import NotReplayable, replay
from .models import DeadLetter, OutboxMessage
from .redaction import redacted


def envelope_display(envelope) -> str:
    """A message envelope as every admin shows it: pretty JSON with secret fields redacted (a row
    may still hold a card token until its command is published)."""
    text = json.dumps(redacted(envelope), indent=2, sort_keys=True, default=str)
    return format_html("<pre>{}</pre>", text)


class EnvelopeAdminMixin:
    """Shows ``envelope`` through :func:`envelope_display`, never as the raw field."""

    @admin.display(description="envelope")
    def envelope_shown(self, obj) -> str:
        return envelope_display(obj.envelope)


def _fields_but_envelope(model) -> list[str]:
    return ["envelope_shown" if f.name == "envelope" else f.name for f in model._meta.fields]


@admin.register(DeadLetter)
class DeadLetterAdmin(EnvelopeAdminMixin, admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay the selected messages on their queue", permissions=["change"])
    def replay_selected(self, request, queryset):
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
class OutboxMessageAdmin(EnvelopeAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "name", "kind", "published_at", "attempts")
    list_filter = ("kind", "name")
    search_fields = ("id", "name")
    fields = readonly_fields = _fields_but_envelope(OutboxMessage)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
