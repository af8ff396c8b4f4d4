from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from provenance.models import Fingerprint, Stamp


@admin.register(Stamp)
class StampAdmin(ReadOnlyAdmin):
    """Written only by the release transition."""

    list_display = ("asset", "payload", "manifest_label", "certificate_serial", "released_at")
    search_fields = ("asset__id", "sha256", "manifest_label")


@admin.register(Fingerprint)
class FingerprintAdmin(ReadOnlyAdmin):
    """Written only by the release transaction (and the registry for older stamps)."""

    list_display = ("stamp", "method", "registered_at")
    search_fields = ("stamp__asset__id",)
