import uuid

from django.conf import settings
from django.db import models

from orgs.scoping import OrgScopedQuerySet, scoped_queryset


class Licence(models.Model):
    """A licence under which training items were obtained: an SPDX id or an org's custom text."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="licences")
    # What manifests name: the SPDX id (CC0-1.0) or a custom key (acme-stock-2024).
    key = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    spdx_id = models.CharField(max_length=100, blank=True)
    custom_text = models.TextField(blank=True)
    url = models.URLField(blank=True)
    allows_training = models.BooleanField()
    allows_commercial = models.BooleanField()
    requires_attribution = models.BooleanField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["org", "key"], name="licence_key_unique"),
            models.CheckConstraint(
                condition=~models.Q(spdx_id="", custom_text=""),
                name="licence_spdx_or_text",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class Dataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="dataset_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetItem(models.Model):
    class Consent(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        GRANTED = "granted", "Granted"
        OPTED_OUT = "opted_out", "Opted out"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="items")
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="items")
    sha256 = models.CharField(max_length=64)
    # 64-bit perceptual hashes from imagehash, as 16 hex digits.
    phash = models.CharField(max_length=16)
    dhash = models.CharField(max_length=16)
    whash = models.CharField(max_length=16)
    # The item's lines as a coarse bitmap (moderation.edge_copies.edge_fingerprint, 256 hex
    # digits): how an uploaded edge map or scribble is matched to it. Empty until computed
    # (`manage.py edge_fingerprints` fills items imported before it existed).
    edge_fingerprint = models.CharField(max_length=256, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file_key = models.CharField(max_length=300, help_text="Key in the 'datasets' storage.")
    source_url = models.CharField(max_length=2000, blank=True)
    creator = models.CharField(max_length=300, blank=True)
    caption = models.TextField(blank=True)
    consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNKNOWN)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("dataset__org").as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "sha256"], name="dataset_item_unique"),
        ]
        indexes = [models.Index(fields=["dataset", "consent"])]

    def __str__(self) -> str:
        return f"{self.dataset} / {self.sha256[:12]}"


class ConsentRecord(models.Model):
    """What an item's owner said and when: an opt-out, or a consent. Items keep the latest."""

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out", "Opt-out"
        CONSENT = "consent", "Consent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey(DatasetItem, on_delete=models.PROTECT, related_name="consent_records")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    requested_by = models.CharField(max_length=300, help_text="The owner, as they identified.")
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("item__dataset__org").as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} for {self.item_id}"
