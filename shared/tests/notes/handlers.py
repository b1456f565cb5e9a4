from service_kit.messaging import command_handler, event_handler

from .models import Note, NoteSeen, Switch


@event_handler("note.created")
def on_note_created(envelope):
    NoteSeen.objects.create(note_id=envelope.data["note_id"], message_id=envelope.id)
    # Raised after the write: a failing handler must leave no effect behind.
    if Switch.objects.filter(name="fail", on=True).exists():
        raise RuntimeError("switch 'fail' is on")


@command_handler("notes.archive")
def archive(envelope):
    Note.objects.filter(pk=envelope.data["note_id"]).update(archived=True)
