from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from webhooks.models import Delivery, DeliveryAttempt, WebhookConfig


@admin.register(WebhookConfig)
class WebhookConfigAdmin(ReadOnlyAdmin):
    """Changed by the org's admins (API, portal) so that each change is audited; the sealed
    secrets are left out."""

    list_display = ("org", "secret_hint", "secret_created_at", "updated_at")
    fields = ("org", "allowed_hosts", "secret_hint", "secret_created_at", "previous_until")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = (
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
        "next_attempt_at",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Written only by the webhooks services."""

    list_display = ("event_type", "org", "job", "url", "state", "attempts", "created_at")
    list_filter = ("state", "event_type")
    search_fields = ("id", "job__id", "event_id", "url")
    inlines = [AttemptInline]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "number", "status_code", "error", "started_at")
