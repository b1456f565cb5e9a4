from django.urls import path

from . import views

urlpatterns = [
    path("notes/", views.NoteListCreateApi.as_view(), name="note-list"),
    path("whoami/", views.WhoAmIApi.as_view(), name="whoami"),
]
