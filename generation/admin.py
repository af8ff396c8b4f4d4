from django.contrib import admin

from generation.models import GenerativeModel


@admin.register(GenerativeModel)
class GenerativeModelAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "family", "org", "created_at")
    list_filter = ("family", "org")
    readonly_fields = ("weights_sha256",)
