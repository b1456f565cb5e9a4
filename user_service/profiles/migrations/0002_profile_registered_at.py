"""Profiles made from a token's claims before ``user.registered`` arrives: when the event was
applied. Existing rows were all made by the event: their creation time."""

from django.db import migrations, models
from django.db.models import F


def registered_when_created(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    Profile.objects.filter(registered_at__isnull=True).update(registered_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="registered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(registered_when_created, migrations.RunPython.noop, elidable=True),
    ]
