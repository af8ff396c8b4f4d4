import uuid

from django.db import models

from orgs.scoping import OrgScopedQuerySet, scoped_queryset


class WebhookConfig(models.Model):
    """An org's webhook settings: the hosts its jobs may call back and the signing secret
    (secret_box.py says how it is stored). Changed only through webhooks.services."""

    org = models.OneToOneField(
        "orgs.Organization", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    allowed_hosts = models.JSONField(default=list)
    secret_sealed = models.TextField(blank=True)
    secret_hint = models.CharField(max_length=16, blank=True)
    secret_created_at = models.DateTimeField(null=True, blank=True)
    # The secret before the last rotation, still signed with until `previous_until` so that
    # receivers can switch without refusing requests in flight.
    previous_sealed = models.TextField(blank=True)
    previous_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"webhooks of {self.org_id}"


class Delivery(models.Model):
    """One event sent to one job's callback URL, with every attempt. The body is stored as sent
    so each retry carries the same bytes (only the signature's timestamp changes)."""

    class State(models.TextChoices):
        PENDING = "PENDING"
        DELIVERED = "DELIVERED"
        FAILED = "FAILED"  # gave up: retries ran out, or the callback is no longer allowed

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey(
        "generation.GenerationJob", on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    event_id = models.UUIDField(help_text="The event's id in the body; a redelivery keeps it.")
    event_type = models.CharField(max_length=32)
    url = models.CharField(max_length=2000)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="redeliveries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["org", "created_at"]),
            models.Index(fields=["job", "created_at"]),
            models.Index(fields=["state", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url} ({self.state})"

    @property
    def last_attempt(self) -> "DeliveryAttempt | None":
        # From the prefetched attempts when the list prefetched them.
        attempts = list(self.attempt_set.all())
        return attempts[-1] if attempts else None


class DeliveryAttempt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next try is due; empty after the last."
    )

    objects = scoped_queryset("delivery__org").as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
