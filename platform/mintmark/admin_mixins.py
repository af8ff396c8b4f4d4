from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records (audit events, policy versions): operators can look, and the
    only way to write is through the services that audit what they do."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
