from django import forms
from django.contrib import admin

from mintmark.admin_mixins import ReadOnlyAdmin
from mintmark.errors import ApiError
from orgs.admin import MembershipAdmin
from orgs.models import Membership
from sso.config import FIELDS, sso_config_clean, sso_config_update
from sso.models import OrgSso, SsoIdentity
from sso.receivers import REFUSAL, signs_in_elsewhere
from sso.secrets import client_secret_variable


class OrgSsoForm(forms.ModelForm):
    class Meta:
        model = OrgSso
        fields = ("org", *FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned.update(sso_config_clean({field: cleaned[field] for field in FIELDS}))
        except ApiError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from None
        return cleaned


@admin.register(OrgSso)
class OrgSsoAdmin(admin.ModelAdmin):
    """Changes go through the same validation and audit event as the API's."""

    form = OrgSsoForm
    list_display = ("org", "enabled", "issuer", "client_id", "password_login", "updated_at")
    readonly_fields = ("client_secret_variable", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # The org of an existing configuration is fixed (its secret is named after it).
        return (*self.readonly_fields, "org") if obj else self.readonly_fields

    @admin.display(description="client secret from")
    def client_secret_variable(self, obj):
        return f"{client_secret_variable(obj.org.slug)} (or _FILE)" if obj and obj.org_id else "-"

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data[field] for field in FIELDS}
        saved = sso_config_update(org=obj.org, actor=request.user, **values)
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        # Turning SSO off is `enabled` unchecked, which the audit log records.
        return False


@admin.register(SsoIdentity)
class SsoIdentityAdmin(ReadOnlyAdmin):
    list_display = ("subject", "issuer", "user", "org", "created_at", "last_login_at")
    search_fields = ("subject", "user__username")
    list_filter = ("org",)


class MembershipForm(forms.ModelForm):
    """The operator's membership form, refusing at the form what sso.receivers refuses on
    every save (else the admin site would answer that refusal with a 500)."""

    def clean(self):
        cleaned = super().clean()
        user, org = cleaned.get("user"), cleaned.get("org")
        if user and org and signs_in_elsewhere(user_id=user.pk, org_id=org.pk):
            raise forms.ValidationError(REFUSAL, code="account_signs_in_elsewhere")
        return cleaned


admin.site.unregister(Membership)


@admin.register(Membership)
class SsoAwareMembershipAdmin(MembershipAdmin):
    form = MembershipForm
