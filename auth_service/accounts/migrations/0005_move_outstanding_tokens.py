"""SimpleJWT's token_blacklist app is no longer installed: its rows kept the full text of every
refresh token, and its admin showed them to anyone allowed to view (a support member could copy an
admin's refresh token and refresh it into an admin's access token). Live tokens move here to
IssuedRefreshToken, by ``jti`` only (each its own family: the lineage was never recorded), and
every row of the old tables is deleted, token text with it. Their content types go too, and with
them the permissions a ``*.view_*`` grant would still match.

The tables themselves stay in this release (expand/contract: the previous release, still serving
during a rolling deploy, reads them, and the migration linter refuses a drop here); a later
release drops them. On a database made after the app was removed they never existed.
"""

import datetime
import uuid

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

SELECT_OUTSTANDING = (
    "SELECT o.jti, o.user_id, o.created_at, o.expires_at, b.blacklisted_at"
    " FROM token_blacklist_outstandingtoken o"
    " LEFT JOIN token_blacklist_blacklistedtoken b ON b.token_id = o.id"
    " WHERE o.user_id IS NOT NULL"
)


def _aware(value):
    """A raw cursor's datetime: a string on SQLite, naive there (UTC) and aware on PostgreSQL."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    return value


def move_outstanding_tokens(apps, schema_editor):
    connection = schema_editor.connection
    tables = connection.introspection.table_names()
    if "token_blacklist_outstandingtoken" not in tables:
        return
    IssuedRefreshToken = apps.get_model("accounts", "IssuedRefreshToken")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(SELECT_OUTSTANDING)
        rows = cursor.fetchall()
    moved = []
    for jti, user_id, created_at, expires_at, blacklisted_at in rows:
        expires_at = _aware(expires_at)
        if expires_at <= now:
            continue
        moved.append(
            IssuedRefreshToken(
                jti=jti,
                user_id=user_id,
                family=uuid.uuid4(),
                issued_at=_aware(created_at) or now,
                expires_at=expires_at,
                revoked_at=_aware(blacklisted_at),
            )
        )
    IssuedRefreshToken.objects.using(connection.alias).bulk_create(
        moved, batch_size=1000, ignore_conflicts=True
    )
    with connection.cursor() as cursor:
        if "token_blacklist_blacklistedtoken" in tables:
            cursor.execute("DELETE FROM token_blacklist_blacklistedtoken")
        cursor.execute("DELETE FROM token_blacklist_outstandingtoken")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(connection.alias).filter(app_label="token_blacklist").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_issued_refresh_tokens"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # Going back leaves the moved rows: the token text is gone for good, on purpose.
    operations = [migrations.RunPython(move_outstanding_tokens, migrations.RunPython.noop)]
