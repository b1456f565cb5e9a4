from django.contrib import admin, messages

from .messaging.consumer import replay
from .models import DeadLetter, OutboxMessage


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["replay_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay the selected messages on their queue", permissions=["change"])
    def replay_selected(self, request, queryset):
        count = 0
        for letter in queryset:
            count += replay(letter)
        self.message_user(request, f"Replayed {count} message(s).", messages.SUCCESS)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "name", "kind", "published_at", "attempts")
    list_filter = ("kind", "name")
    search_fields = ("id", "name")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
