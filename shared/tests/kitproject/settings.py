"""The kit's test project: one small service, run under several names to test messaging.

``KIT_SERVICE_NAME`` names it (queues, database); ``KIT_CONSUMES`` lists the event types its
``<name>.events`` queue is bound to.
"""

import os

from service_kit.conf import service_settings

globals().update(
    service_settings(
        service=os.environ.get("KIT_SERVICE_NAME", "notes"),
        apps=["notes"],
        consumes=[e for e in os.environ.get("KIT_CONSUMES", "note.created").split(",") if e],
        commands=["archive"],
    )
)
