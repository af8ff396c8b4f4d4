from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from policies.models import Policy


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ("org", "version", "note", "created_by", "created_at")
    list_filter = ("org",)
