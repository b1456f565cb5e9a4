"""The kit's test project (``kitproject`` and its ``notes`` app) run as real processes: as the
publisher ``notes`` or as a consumer (``alpha``, ``beta``...), each with its own database and
queues. The kit's tests on real processes import these from here."""

from __future__ import annotations

from pathlib import Path

from service_kit.platform import Service

KIT_TESTS = Path(__file__).resolve().parent


def kit_service(name: str) -> Service:
    """The kit's test project run as service ``name`` (its own queues and database)."""
    return Service(name, KIT_TESTS.name, 8090, base=KIT_TESTS.parent, package="kitproject")


def kit_env(name: str, consumes: str = "note.created", **extra: str) -> dict[str, str]:
    return {"KIT_SERVICE_NAME": name, "KIT_CONSUMES": consumes, **extra}
