"""What needs attention in one service, and its recent staff actions, for the staff front page.

- ``GET /api/v1/console/figures/``: the service's figures (``settings.CONSOLE_FIGURES``, dotted
  paths of callables giving :class:`Figure` s, then the dead letters waiting), each with the
  filtered list in its admin that shows the rows counted.
- ``GET /api/v1/console/activity/``: its audit trail, newest first (``?actor=`` one person's,
  ``?limit=`` at most 100).

Read by the gateway with its service token (scope ``console:read``) and by the staff whose roles
open this service's admin (``service_kit.roles.ADMINS``); nobody else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from service_kit.auth.permissions import IsAuthenticated
from service_kit.auth.verify import TokenUser
from service_kit.models import AuditEntry, DeadLetter
from service_kit.roles import ADMINS

from .links import Figure, admin_href

if TYPE_CHECKING:  # the serializers take type parameters in the stubs only
    PlainSerializer = serializers.Serializer[Any]
    EntrySerializerBase = serializers.ModelSerializer[AuditEntry]
else:
    PlainSerializer = serializers.Serializer
    EntrySerializerBase = serializers.ModelSerializer

#: The scope of a service identity that reads every service's figures and activity.
CONSOLE_SCOPE = "console:read"


def dead_letters_figure() -> Figure:
    """Every service's: the messages it gave up on and nobody replayed yet."""
    return Figure(
        "dead_letters",
        "Dead letters waiting",
        DeadLetter.objects.filter(replayed_at__isnull=True).count(),
        admin_href(
            settings.SERVICE_NAME,
            "service_kit",
            "deadletter",
            query={"replayed_at__isnull": "True"},
        ),
    )


def service_figures() -> list[Figure]:
    figures: list[Figure] = []
    for path in getattr(settings, "CONSOLE_FIGURES", ()):
        provider: Callable[[], Iterable[Figure]] = import_string(path)
        figures.extend(provider())
    figures.append(dead_letters_figure())
    return figures


class ConsoleReader(IsAuthenticated):
    """The gateway's identity (``console:read``), or staff whose roles open this admin."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not isinstance(user, TokenUser) or not super().has_permission(request, view):
            return False
        if user.is_service:
            return CONSOLE_SCOPE in user.scopes
        return user.has_role(*ADMINS.get(settings.SERVICE_NAME, ("", "", ()))[2])


class FigureSerializer(PlainSerializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    count = serializers.IntegerField()
    url = serializers.CharField(help_text="The admin's list of the rows counted.")


class FiguresSerializer(PlainSerializer):
    service = serializers.CharField()
    figures = FigureSerializer(many=True)


class AuditEntrySerializer(EntrySerializerBase):
    class Meta:
        model = AuditEntry
        fields = ("id", "at", "actor", "action", "target", "target_url", "reason", "details")


class ActivitySerializer(PlainSerializer):
    service = serializers.CharField()
    results = AuditEntrySerializer(many=True)


class ActivityQuerySerializer(PlainSerializer):
    actor = serializers.CharField(required=False, max_length=254, help_text="A person's email.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class ConsoleFiguresApi(APIView):
    permission_classes = [ConsoleReader]

    @extend_schema(
        operation_id="console_figures",
        summary="What needs attention in this service",
        tags=["console"],
        responses={200: FiguresSerializer},
    )
    def get(self, request: Request) -> Response:
        figures = [asdict(figure) for figure in service_figures()]
        return Response({"service": settings.SERVICE_NAME, "figures": figures})


class ConsoleActivityApi(APIView):
    permission_classes = [ConsoleReader]

    @extend_schema(
        operation_id="console_activity",
        summary="This service's recent staff actions (the audit trail)",
        tags=["console"],
        parameters=[ActivityQuerySerializer],
        responses={200: ActivitySerializer},
    )
    def get(self, request: Request) -> Response:
        query = ActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        entries = AuditEntry.objects.all()
        if query.validated_data.get("actor"):
            entries = entries.filter(actor__iexact=query.validated_data["actor"].strip())
        rows: Any = entries[: query.validated_data["limit"]]
        return Response(
            {
                "service": settings.SERVICE_NAME,
                "results": AuditEntrySerializer(rows, many=True).data,
            }
        )
