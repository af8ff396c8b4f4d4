import uuid

from django.db import models

from orgs.scoping import scoped_queryset


class Stamp(models.Model):
    """What release stamped into an asset's file: its watermark payload (unique across the
    installation, so a decoded payload names exactly one asset), the signed manifest, and the
    fingerprint (perceptual hashes of the released pixels) for images whose metadata and
    watermark were lost. The payload is reserved before embedding; the rest is filled in by
    the release transition."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.OneToOneField("generation.Asset", on_delete=models.PROTECT, related_name="stamp")
    payload = models.BigIntegerField(unique=True)
    watermark_algorithm = models.CharField(max_length=100)
    manifest_label = models.CharField(max_length=200, blank=True)
    certificate_serial = models.CharField(max_length=64, blank=True)
    certificate_sha256 = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the released file.")
    phash = models.CharField(max_length=16, blank=True)
    dhash = models.CharField(max_length=16, blank=True)
    whash = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    objects = scoped_queryset("asset__job__org").as_manager()

    class Meta:
        indexes = [models.Index(fields=["released_at"]), models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return f"stamp {self.payload:x} of {self.asset_id}"


class Fingerprint(models.Model):
    """The crop-tolerant fingerprint of a released image (provenance/fingerprint.py): a small
    thumbnail of its pixels for the confirmation stage and the window vectors that find its
    candidates. Registered by the release transaction (provenance/release.py); stamps released
    before fingerprints existed are registered from their files by provenance/registry.py."""

    stamp = models.OneToOneField(
        Stamp, primary_key=True, on_delete=models.CASCADE, related_name="fingerprint"
    )
    method = models.CharField(max_length=100)
    thumbnail = models.BinaryField(help_text="PNG, the longer side 64 px.")
    windows = models.BinaryField(help_text="float16 window vectors.")
    registered_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = scoped_queryset("stamp__asset__job__org").as_manager()

    def __str__(self) -> str:
        return f"fingerprint of {self.stamp_id}"
