from django.contrib import admin

from audit.models import AuditEvent
from mintmark.admin_mixins import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "org",
        "seq",
        "action",
        "actor_label",
        "subject_type",
        "subject_id",
        "created_at",
    )
    list_filter = ("org", "action")
    search_fields = ("action", "actor_label", "subject_id")
