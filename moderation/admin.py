from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from moderation.models import AbuseEvent, GateResult, Hold, InputCheck, Review, Suspension

# Gate results, hold reasons, input checks, reviews, abuse counts and suspensions change only
# through the services that audit them (a suspension is lifted with
# POST /api/abuse/alerts/{id}/lift).


@admin.register(GateResult)
class GateResultAdmin(ReadOnlyAdmin):
    list_display = ("gate", "verdict", "job", "asset", "duration_ms", "created_at")
    list_filter = ("gate", "verdict")
    search_fields = ("job__id", "asset__id", "reason")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("asset", "created_at")
    search_fields = ("asset__id",)


@admin.register(InputCheck)
class InputCheckAdmin(ReadOnlyAdmin):
    list_display = ("job", "input", "verdict", "created_at")
    list_filter = ("verdict",)
    search_fields = ("job__id", "reason")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("asset", "reviewer", "decision", "created_at")
    list_filter = ("decision",)


@admin.register(AbuseEvent)
class AbuseEventAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "category", "org", "created_at")
    list_filter = ("kind", "org")


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyAdmin):
    list_display = ("user", "org", "created_at", "lifted_at", "lifted_by")
    list_filter = ("org",)
