from django.conf import settings
from django.db import models

from orgs.scoping import OrgScopedQuerySet


class AuditEvent(models.Model):
    """One link of an organization's hash chain. Append-only: database triggers refuse UPDATE
    and DELETE (see audit/triggers.py)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept beside the id so the log stays readable if the user is deleted later.
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    subject_type = models.CharField(max_length=100, blank=True)
    subject_id = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["org", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["org", "seq"], name="audit_event_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["org", "action"]),
            models.Index(fields=["org", "created_at"]),
            models.Index(fields=["org", "subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.org_id}#{self.seq} {self.action}"
