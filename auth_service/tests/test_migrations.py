"""Data migrations, run against tables as an older release left them."""

from datetime import timedelta
from importlib import import_module

import pytest
from accounts.models import IssuedRefreshToken
from accounts.tokens import RefreshToken
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from platform_tools.testing.backing import skip_unless
from platform_tools.testing.contract import assert_error

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

# SimpleJWT's token_blacklist tables as its migrations made them (PostgreSQL).
OLD_TABLES = """
CREATE TABLE token_blacklist_outstandingtoken (
    id bigserial PRIMARY KEY, user_id uuid NULL REFERENCES accounts_user (id),
    jti varchar(255) UNIQUE NOT NULL, token text NOT NULL,
    created_at timestamptz NULL, expires_at timestamptz NOT NULL);
CREATE TABLE token_blacklist_blacklistedtoken (
    id bigserial PRIMARY KEY,
    token_id bigint UNIQUE NOT NULL REFERENCES token_blacklist_outstandingtoken (id),
    blacklisted_at timestamptz NOT NULL);
"""


def test_the_blacklists_rows_move_without_their_token_text(api):
    """Live refresh tokens keep working by ``jti``; no row keeps a token; the old app's view
    permissions (which a support member's ``*.view_*`` grant matched) are gone."""
    skip_unless(connection.vendor == "postgresql", "the old tables as PostgreSQL had them")
    user = UserFactory(email="kim@example.com")
    now = timezone.now()
    live = api.sign_in("kim@example.com", PASSWORD)["refresh"]
    IssuedRefreshToken.objects.all().delete()  # as if the old release issued it
    live_jti, used, expired = RefreshToken(live)["jti"], "used-jti", "expired-jti"
    tomorrow = now + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(OLD_TABLES)
        for jti, expires_at in ((live_jti, tomorrow), (used, tomorrow), (expired, now)):
            cursor.execute(
                "INSERT INTO token_blacklist_outstandingtoken"
                " (user_id, jti, token, created_at, expires_at) VALUES (%s, %s, %s, %s, %s)",
                [user.pk, jti, f"eyJ.{jti}.full-token-text", now, expires_at],
            )
        cursor.execute(
            "INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)"
            " SELECT id, %s FROM token_blacklist_outstandingtoken WHERE jti = %s",
            [now, used],
        )
    content_type = ContentType.objects.create(app_label="token_blacklist", model="outstandingtoken")
    Permission.objects.create(
        content_type=content_type, codename="view_outstandingtoken", name="Can view"
    )
    migration = import_module("accounts.migrations.0005_move_outstanding_tokens")

    with connection.schema_editor() as editor:
        migration.move_outstanding_tokens(apps, editor)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM token_blacklist_outstandingtoken")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM token_blacklist_blacklistedtoken")
        assert cursor.fetchone() == (0,)
    moved = {token.jti: token.revoked_at is not None for token in IssuedRefreshToken.objects.all()}
    assert moved == {live_jti: False, used: True}
    assert not Permission.objects.filter(content_type__app_label="token_blacklist").exists()
    assert api.post("/api/v1/auth/token/refresh/", {"refresh": live}).status_code == 200
    assert_error(api.post("/api/v1/auth/token/refresh/", {"refresh": live}), 401, "token_not_valid")
