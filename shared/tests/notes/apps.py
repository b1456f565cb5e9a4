from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from service_kit.messaging.schemas import registry

        note = {"type": "string", "format": "uuid", "minLength": 32, "maxLength": 36}
        registry.register(
            "note.created",
            {
                "type": "object",
                "required": ["note_id", "text"],
                "properties": {"note_id": note, "text": {"type": "string", "maxLength": 200}},
            },
            owner="notes",
        )
        registry.register(
            "note.archived",
            {
                "type": "object",
                "required": ["note_id"],
                "properties": {"note_id": note},
            },
            owner="notes",
        )
        registry.register(
            "notes.archive",
            {
                "type": "object",
                "required": ["note_id"],
                "properties": {"note_id": note},
            },
            owner="notes",
            senders=("notes",),
            kind="command",
        )
