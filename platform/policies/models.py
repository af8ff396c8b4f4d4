import uuid

from django.conf import settings
from django.db import models

from orgs.scoping import OrgScopedQuerySet


class Policy(models.Model):
    """One version of an org's policy. Never edited in place: a change is a new version, and
    the newest version is the active one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="policies")
    version = models.PositiveIntegerField()
    rules = models.JSONField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["org", "-version"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(fields=["org", "version"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.org} policy v{self.version}"
