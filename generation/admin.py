from django.contrib import admin

from generation.models import Asset, ControlNet, GenerationJob, GenerativeModel, LoraAdapter
from mintmark.admin_mixins import ReadOnlyAdmin


@admin.register(GenerativeModel)
class GenerativeModelAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "family", "org", "state", "created_at")
    list_filter = ("family", "state", "org")
    # The folder and its verification change only through registration (generation/services.py).
    readonly_fields = (
        "local_path",
        "weights_sha256",
        "state",
        "verify_bytes_done",
        "verify_bytes_total",
        "verify_error",
        "verified_at",
    )


@admin.register(LoraAdapter)
class LoraAdapterAdmin(ReadOnlyAdmin):
    """Registered through the API (generation/adapters.py), which hashes the folder and audits
    it; a change here would bypass both."""

    list_display = ("name", "version", "base_model", "org", "created_at")
    list_filter = ("org",)
    search_fields = ("name", "weights_sha256")


@admin.register(ControlNet)
class ControlNetAdmin(ReadOnlyAdmin):
    """Registered through the API (generation/controlnets.py), which checks the folder against
    its base model, hashes it and audits it; a change here would bypass all three."""

    list_display = ("name", "version", "kind", "base_model", "org", "created_at")
    list_filter = ("kind", "org")
    search_fields = ("name", "weights_sha256")


class AssetInline(admin.TabularInline):
    model = Asset
    extra = 0
    can_delete = False
    readonly_fields = ("index", "seed", "state", "sha256", "quarantine_key", "release_key")


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "org", "user", "model", "state", "num_images", "created_at")
    list_filter = ("state", "mode", "org")
    search_fields = ("id", "prompt", "user__username")
    readonly_fields = ("state", "claimed_by", "attempts", "quota_images", "seeds", "error")
    inlines = [AssetInline]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "index", "state", "created_at")
    list_filter = ("state",)
    readonly_fields = (
        "state",
        "sha256",
        "phash",
        "dhash",
        "whash",
        "quarantine_key",
        "release_key",
    )
