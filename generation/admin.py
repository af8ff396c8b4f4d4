from django.contrib import admin

from generation.models import Asset, ControlNet, GenerationJob, GenerativeModel, LoraAdapter
from mintmark.admin_mixins import ReadOnlyAdmin


@admin.register(GenerativeModel)
class GenerativeModelAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "family", "org", "state", "created_at")
    list_filter = ("family", "state", "org")
    # The folder and its verification change only through registration (generation/services.py);
    # the org, family and training datasets too: the licence posture, the pipeline and the
    # memorization gate's training items follow from them; the name and version are how jobs
    # name it and how its images' content credentials identify it.
    readonly_fields = (
        "name",
        "version",
        "org",
        "family",
        "trained_on",
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

    def has_change_permission(self, request, obj=None):
        return False


# Jobs and assets are read-only here: the gates judged the prompt, inputs and model a job was
# submitted with, so an edit of a queued job would reach the GPU worker unjudged, and an asset's
# state and files change only through the transitions that gate, review and audit them.
@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "org", "user", "model", "state", "num_images", "created_at")
    list_filter = ("state", "mode", "org")
    search_fields = ("id", "prompt", "user__username")
    inlines = [AssetInline]


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "index", "state", "created_at")
    list_filter = ("state",)
