"""Secrets never shown: finds anything shaped like a JWT, a password reset token, a client secret
or a card token (the shapes of service_kit.redaction, which the log filter removes), and any
literal secret a test knows (the passwords it typed), in log files, pages and API answers.

    leaks = find_secrets(text, literals={"password": PASSWORD})
    assert not leaks, leaks

Used by the end-to-end run (every process's log, every API answer of the journeys) and by each
service's suite for its admin pages (:func:`admin_pages_test`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service_kit.redaction import SECRET_SHAPES


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} in …{self.excerpt}…"


def find_secrets(
    text: str, *, where: str = "", literals: dict[str, str] | None = None
) -> list[Leak]:
    """Every secret in ``text``: by shape, and each of ``literals`` (kind → value) as written;
    a match inside one already found (a JWT's signature) is not counted again."""
    public = [m.span() for m in _PUBLIC_PEM.finditer(text)]
    matches = [
        (kind, m.span())
        for kind, shape in {**SECRET_SHAPES, "private_key": _PRIVATE_PEM}.items()
        for m in shape.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in public)
    ]
    for kind, value in (literals or {}).items():
        if value:
            matches += [(kind, m.span()) for m in re.finditer(re.escape(value), text)]
    found, spans = [], []
    for kind, (start, end) in matches:
        if not any(a <= start and end <= b for a, b in spans):
            spans.append((start, end))
            found.append(_leak(where, kind, text, start, end))
    return found


#: A PEM public key or certificate (a signing key's admin page shows one) is public: its base64
#: lines, split at '+' and '/', can hold a 43-character run shaped like a client secret.
_PUBLIC_PEM = re.compile(r"-----BEGIN (PUBLIC KEY|CERTIFICATE)-----.*?-----END \1-----", re.DOTALL)
#: A PEM private key, in any of its armours, is a secret wherever it appears.
_PRIVATE_PEM = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")


def find_in_logs(folder: Path, *, literals: dict[str, str] | None = None) -> list[Leak]:
    """Every secret in every log file under ``folder`` (one process's output each)."""
    found = []
    for path in sorted(Path(folder).rglob("*.log")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += find_secrets(line, where=f"{path.name}:{number}", literals=literals)
    return found


def _leak(where: str, kind: str, text: str, start: int, end: int) -> Leak:
    return Leak(where, kind, text[max(0, start - 40) : min(len(text), end + 20)])


# -- every admin page --------------------------------------------------------------------------


def admin_pages_test(*, factories: Sequence[str] = (), make: dict[str, Callable] | None = None):
    """A test for a service's suite: one object of every model registered in any of its admin
    sites (an existing row, else made by the service's factory_boy factory for the model, found
    in the ``factories`` modules, else by ``make["app_label.model"]()``), then each model's list
    and change page fetched as a superuser; none may show a secret.

        # product_service/tests/test_admin_secrets.py
        test_no_admin_page_shows_a_secret = admin_pages_test(factories=["tests.factories"])
    """
    import pytest

    @pytest.mark.django_db
    def test(admin_client):
        from django.conf import settings
        from django.contrib.admin.utils import quote
        from django.urls import reverse

        makers = {**_KIT_MAKERS, **(make or {})}
        by_model = _factories(factories)
        leaks = []
        for site, model in _registered():
            label = model._meta.label_lower
            obj = model._default_manager.first()
            if obj is None and model in by_model:
                obj = by_model[model]()
            elif obj is None:
                assert label in makers, f"{label}: no factory and no make[{label!r}] to create one"
                obj = makers[label]()
            names = f"{site.name}:{model._meta.app_label}_{model._meta.model_name}"
            for url in (
                reverse(f"{names}_changelist"),
                reverse(f"{names}_change", args=[quote(obj.pk)]),
            ):
                response = admin_client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                where = f"{settings.SERVICE_NAME} admin {label} {url}"
                leaks += find_secrets(response.content.decode(), where=where)
        assert leaks == [], "\n".join(map(str, leaks[:20]))

    test.__name__ = "test_no_admin_page_shows_a_secret"
    return test


def _registered():
    from django.contrib.admin.sites import all_sites

    for site in sorted(all_sites, key=lambda s: s.name):
        for model in sorted(site._registry, key=lambda m: m._meta.label_lower):
            yield site, model


def _factories(modules: Sequence[str]) -> dict:
    """Model → its factory, from the named modules (a ``<Model>Factory`` first)."""
    import importlib

    from factory.django import DjangoModelFactory

    found: dict = {}
    for name in modules:
        module = importlib.import_module(name)
        made = [
            f
            for f in vars(module).values()
            if isinstance(f, type) and issubclass(f, DjangoModelFactory) and f._meta.model
        ]
        for f in sorted(made, key=lambda f: f.__name__ != f"{f._meta.model.__name__}Factory"):
            found.setdefault(f._meta.model, f)
    return found


def _outbox_message():
    from service_kit.models import OutboxMessage

    envelope = {"id": str(uuid.uuid4()), "type": "note.created", "version": "1.0", "data": {}}
    return OutboxMessage.objects.create(
        kind=OutboxMessage.Kind.EVENT,
        name="events.note.created",
        routing_key="note.created",
        exchange="domain_events",
        envelope=envelope,
    )


def _dead_letter():
    from service_kit.models import DeadLetter

    envelope = {"id": str(uuid.uuid4()), "type": "note.created", "version": "1.0", "data": {}}
    return DeadLetter.objects.create(
        message_id=envelope["id"],
        task="events.note.created",
        queue="kit.events",
        envelope=envelope,
        reason=DeadLetter.Reason.choices[0][0],
        error="ValueError: not a note",
    )


def _group():
    from django.contrib.auth.models import Group

    return Group.objects.create(name="support")


#: The kit's own models and Django's groups, for a service that passes nothing more telling.
def _audit_entry():
    from service_kit.audit import audit_record

    return audit_record(
        actor="staff@example.com",
        action="refund",
        target="an order",
        reason="the customer asked",
        details={"amount": "10.00", "currency": "EUR"},
    )


_KIT_MAKERS: dict[str, Callable] = {
    "auth.group": _group,
    "service_kit.outboxmessage": _outbox_message,
    "service_kit.deadletter": _dead_letter,
    "service_kit.auditentry": _audit_entry,
}
