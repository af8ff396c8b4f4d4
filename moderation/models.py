import uuid

from django.conf import settings
from django.db import models

from orgs.scoping import OrgScopedQuerySet, scoped_queryset


class GateResult(models.Model):
    """What one gate said about a job's prompt (asset is null) or about one asset. Results are
    only ever added: a retried evaluation adds a new row, the decision reads the newest."""

    class Verdict(models.TextChoices):
        PASS = "pass"  # noqa: S105 - a verdict, not a secret
        BLOCK = "block"
        REVIEW = "review"
        # The gate raised, timed out or answered nonsense: the asset stays quarantined.
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(
        "generation.GenerationJob", on_delete=models.PROTECT, related_name="gate_results"
    )
    asset = models.ForeignKey(
        "generation.Asset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gate_results",
    )
    gate = models.CharField(max_length=50)
    gate_version = models.CharField(max_length=100)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    scores = models.JSONField(default=dict)
    details = models.JSONField(default=dict)
    duration_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("job__org").as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["asset", "gate", "created_at"])]

    def __str__(self) -> str:
        return f"{self.gate}: {self.verdict}"

    @staticmethod
    def latest_per_gate(results) -> dict[str, "GateResult"]:
        """The newest result of each gate among `results` (a retried evaluation adds rows; the
        last one counts). Sorted here so a prefetched set needs no new query."""
        latest = {}
        for result in sorted(results, key=lambda r: r.created_at):
            latest[result.gate] = result
        return latest


class Review(models.Model):
    """A reviewer's decision on an asset held IN_REVIEW; one per asset."""

    class Decision(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.OneToOneField(
        "generation.Asset", on_delete=models.PROTECT, related_name="review"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("asset__job__org").as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} {self.asset_id}"


class Hold(models.Model):
    """Why the gating decision held an asset for human review (a gate asking for it, the
    deployment context, the prompt), kept with the asset so the API and portal can say so;
    one per asset, written when the asset moves to IN_REVIEW."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.OneToOneField("generation.Asset", on_delete=models.PROTECT, related_name="hold")
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("asset__job__org").as_manager()

    def __str__(self) -> str:
        return f"hold {self.asset_id}: {'; '.join(self.reasons)}"


class InputCheck(models.Model):
    """The memorization check of one input image of an edit job (its base image; later control
    images), made before the job was queued. A copy of a training item is refused by default,
    so a stored one passed or, by policy, holds the job's images for review."""

    class Verdict(models.TextChoices):
        PASS = "pass"  # noqa: S105 - a verdict, not a secret
        REVIEW = "review"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(
        "generation.GenerationJob", on_delete=models.PROTECT, related_name="input_checks"
    )
    input = models.CharField(max_length=20)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    scores = models.JSONField(default=dict)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("job__org").as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.input}: {self.verdict}"


class AbuseEvent(models.Model):
    """A blocked prompt or image, counted against the user who asked for it."""

    class Kind(models.TextChoices):
        PROMPT_BLOCKED = "prompt_blocked"
        IMAGE_BLOCKED = "image_blocked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    category = models.CharField(max_length=50)
    job = models.ForeignKey(
        "generation.GenerationJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    asset = models.ForeignKey(
        "generation.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.category})"


class Suspension(models.Model):
    """A user barred from generating after too many blocked requests, until an admin lifts it.
    Creating one is the admins' alert."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.TextField(blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open suspension per user and org: concurrent blocks cannot stack them.
            models.UniqueConstraint(
                fields=["org", "user"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_open_suspension",
            )
        ]

    def __str__(self) -> str:
        return f"suspension of {self.user_id} ({'lifted' if self.lifted_at else 'open'})"
