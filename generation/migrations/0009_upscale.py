import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0008_controlnet"),
    ]

    operations = [
        migrations.AlterField(
            model_name="generativemodel",
            name="family",
            field=models.CharField(
                choices=[
                    ("sd15", "Stable Diffusion 1.x"),
                    ("sdxl", "Stable Diffusion XL"),
                    ("sd3", "Stable Diffusion 3"),
                    ("flux", "Flux"),
                    ("other", "Other latent diffusion"),
                    ("upscaler", "Upscaler x4"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="generationjob",
            name="mode",
            field=models.CharField(
                choices=[
                    ("text-to-image", "Text To Image"),
                    ("image-to-image", "Image To Image"),
                    ("inpaint", "Inpaint"),
                    ("upscale", "Upscale"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="generationjob",
            name="parent_asset",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="upscales",
                to="generation.asset",
            ),
        ),
    ]
