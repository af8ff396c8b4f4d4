from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_model_verify_heartbeat"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationjob",
            name="callback_url",
            field=models.CharField(blank=True, max_length=2000),
        ),
    ]
