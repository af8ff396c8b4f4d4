import uuid

from django.conf import settings
from django.db import models

from orgs.models import Organization

ROLE_ORDER = ("admin", "staff", "reviewer", "auditor")


def _no_groups() -> dict:
    return {role: [] for role in ROLE_ORDER}


class OrgSso(models.Model):
    """An organization's OpenID Connect provider. The client secret is not here: it is read
    from the environment (or a file) named after the org's slug, see sso/secrets.py."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso")
    enabled = models.BooleanField(default=False)
    issuer = models.CharField(max_length=500, blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    scopes = models.CharField(max_length=300, default="openid email groups")
    groups_claim = models.CharField(max_length=100, default="groups")
    # {"admin": [group, ...], "staff": [...], "reviewer": [...], "auditor": [...]}
    role_groups = models.JSONField(default=_no_groups)
    password_login = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "organization SSO"
        verbose_name_plural = "organization SSO"

    def __str__(self) -> str:
        return f"SSO of {self.org}"


class SsoIdentity(models.Model):
    """Links a subject of an org's provider to the Mintmark account it signs in as."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "issuer", "subject"], name="sso_identity_one_per_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer} -> {self.user}"
