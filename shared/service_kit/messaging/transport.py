"""The embedded profile's broker: kombu's filesystem transport, with each message written whole
before any worker can see it.

kombu writes a message file in place (open, lock, write), and a worker polling the folder moves
and reads any file named for its queue without taking the lock: it can take one while it is still
empty, and the JSON error ends the worker (seen under ``make up``). Here a message is written under
a name no queue reads (it has no ``.<queue>.msg`` part), then renamed into place: a rename within
one folder is atomic, so a reader finds a whole message or none.

The same for an exchange's table of bound queues: kombu creates the file empty and locks it only
then, so a second worker binding at that moment (workers starting together on a fresh ``var/``)
could lock it first, read nothing and die on the JSON error. Here the file comes into being whole,
holding an empty table, before kombu opens it."""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

#: What Celery's ``broker_transport`` names for a ``filesystem://`` broker.
TRANSPORT = "service_kit.messaging.transport:Transport"


class Channel(filesystem.Channel):
    # The signature of kombu's filesystem channel, which its stubs also mark as an override.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        folder = self.data_folder_out
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(folder, f"writing-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(folder, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        table = self.control_folder / f"{exchange}.exchange"
        # A name kombu would refuse (a path, not a file of the control folder) it refuses below.
        if table.parent == self.control_folder and not table.exists():
            self.control_folder.mkdir(exist_ok=True)
            partial = table.with_name(f"writing-{uuid.uuid4().hex}")
            partial.write_text("[]")
            try:
                os.link(partial, table)  # fails when another worker's came first: theirs it is
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
