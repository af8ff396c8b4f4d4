import uuid

from django.db import models

from orgs.scoping import OrgScopedQuerySet


class GenerativeModel(models.Model):
    """A registered model: a local diffusers folder, its weights' digest, and the datasets it
    was trained on, from which its licence posture is derived."""

    class Family(models.TextChoices):
        SD15 = "sd15", "Stable Diffusion 1.x"
        SDXL = "sdxl", "Stable Diffusion XL"
        SD3 = "sd3", "Stable Diffusion 3"
        FLUX = "flux", "Flux"
        OTHER = "other", "Other latent diffusion"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    family = models.CharField(max_length=16, choices=Family.choices)
    local_path = models.CharField(max_length=1000)
    weights_sha256 = models.CharField(max_length=64)
    trained_on = models.ManyToManyField("licensing.Dataset", related_name="models_trained")
    model_card = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name", "version"], name="model_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"
