from django.contrib import admin

from licensing.models import ConsentRecord, Dataset, DatasetItem, Licence
from mintmark.admin_mixins import ReadOnlyAdmin


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    """A licence's terms decide whether a model trained under it may run (the licence
    posture): they are written by licence_create, which audits them, never edited here."""

    list_display = ("key", "org", "allows_training", "allows_commercial", "expires_at")
    list_filter = ("org", "allows_training", "allows_commercial")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "org", "created_at")
    list_filter = ("org",)
    # A dataset moved to another org would take its items into that org's memorization gate
    # and licence records, and out of its own, without an audit event.
    readonly_fields = ("org",)


@admin.register(DatasetItem)
class DatasetItemAdmin(admin.ModelAdmin):
    list_display = ("sha256", "dataset", "licence", "consent", "created_at")
    list_filter = ("consent", "dataset")
    search_fields = ("sha256", "source_url", "creator")
    # An item's dataset is what the memorization gate compares a model's images with, and its
    # consent follows its consent records (an opt-out marks every model trained on it): both
    # change only through the services that audit them.
    readonly_fields = ("dataset", "consent", "sha256", "phash", "dhash", "whash", "file_key")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("item", "kind", "requested_by", "created_at")
    list_filter = ("kind",)
