"""Media on Google Cloud Storage (``MEDIA_BACKEND=gcs``, see :mod:`service_kit.media`)."""

from __future__ import annotations

from typing import Any

from storages.backends.gcloud import GoogleCloudStorage as _GoogleCloudStorage


class GoogleCloudStorage(_GoogleCloudStorage):  # type: ignore[misc]  # django-storages: untyped
    """django-storages' Google Cloud Storage, which can also talk to an emulator
    (``emulator_host``): the API calls go there unauthenticated, as emulators take them, and
    the URLs it hands out are still signed with the service account's key and point there."""

    # set by django-storages from the options
    _client: Any
    credentials: Any
    emulator_host: str | None

    def get_default_settings(self) -> dict[str, Any]:
        return {**super().get_default_settings(), "emulator_host": None}

    @property
    def client(self) -> Any:
        if self._client is None and self.emulator_host:
            self._client = self._emulator_client()
        return super().client

    def _emulator_client(self) -> Any:
        import google.auth
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.storage import Client

        project = self.project_id
        if self.credentials is None:  # GOOGLE_APPLICATION_CREDENTIALS: the key that signs
            self.credentials, found = google.auth.default()
            project = project or found
        return Client(
            project=project or "emulated",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.emulator_host},
        )

    def url(self, name: str, parameters: dict[str, Any] | None = None) -> str:
        if self.emulator_host and self.querystring_auth:
            self.client  # noqa: B018 - loads the signing credentials
            parameters = {"credentials": self.credentials, **(parameters or {})}
        return str(super().url(name, parameters))
