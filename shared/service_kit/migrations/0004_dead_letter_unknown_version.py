from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("service_kit", "0003_dead_letter_forbidden_sender"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deadletter",
            name="reason",
            field=models.CharField(
                choices=[
                    ("failed", "handler kept failing"),
                    ("invalid", "payload broke its schema"),
                    ("forbidden_sender", "sent by a service not allowed to send it"),
                    ("unknown_version", "a major version this service does not know"),
                ],
                max_length=16,
            ),
        ),
    ]
