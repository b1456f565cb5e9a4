import time

from django.db import transaction
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from service_kit.idempotency import idempotent
from service_kit.messaging import publish_event

from .models import Note


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "text", "archived", "created_at"]


class NoteListCreateApi(generics.ListCreateAPIView):
    """POST writes a note and its ``note.created`` event in one transaction.

    ``text == "rollback"`` fails validation after both writes: neither may survive.
    ``?sleep=`` holds the request open (for the in-flight idempotency case)."""

    permission_classes = [AllowAny]
    queryset = Note.objects.all()
    serializer_class = NoteSerializer

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            note = serializer.save()
            publish_event("note.created", {"note_id": str(note.id), "text": note.text})
            if note.text == "rollback":
                raise ValidationError({"text": ["rolled back after the event was written"]})
        # ?sleep=N: a request that stays in flight (not a wait in a test: what the idempotency
        # tests need is a request under way while another with its key arrives)
        time.sleep(min(float(request.query_params.get("sleep", 0)), 5))
        return Response(
            self.get_serializer(note).data,
            status=201,
            headers={"Location": f"/api/v1/notes/{note.id}/"},
        )


class WhoAmIApi(APIView):
    """The caller as its token says (the default permission: any valid token)."""

    def get(self, request):
        user = request.user
        return Response(
            {
                "id": user.id,
                "email": user.email,
                "is_staff": user.is_staff,
                "roles": sorted(user.roles),
                "scopes": sorted(user.scopes),
                "client_id": user.client_id,
            }
        )
