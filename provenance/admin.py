from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from provenance.models import Stamp


@admin.register(Stamp)
class StampAdmin(ReadOnlyAdmin):
    """Written only by the release transition."""

    list_display = ("asset", "payload", "manifest_label", "certificate_serial", "released_at")
    search_fields = ("asset__id", "sha256", "manifest_label")
