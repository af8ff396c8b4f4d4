"""Validating and changing an organization's SSO settings (API, portal-free admin site)."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from audit.services import audit_append
from mintmark.errors import ApiError
from orgs.models import Organization
from sso.models import ROLE_ORDER, OrgSso
from sso.secrets import client_secret, client_secret_variable

FIELDS = (
    "enabled",
    "issuer",
    "client_id",
    "scopes",
    "groups_claim",
    "role_groups",
    "password_login",
)
_CLAIM = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def sso_config(org: Organization) -> OrgSso:
    """The org's settings; an org that never configured SSO gets the defaults, unsaved."""
    return OrgSso.objects.filter(org=org).first() or OrgSso(org=org)


def _invalid(code: str, detail: str):
    return ApiError(422, code, detail)


def _clean_issuer(issuer: str) -> str:
    issuer = issuer.strip()
    if not issuer:
        return ""
    parts = urlsplit(issuer)
    allowed = ("https", "http") if settings.SSO_ALLOW_HTTP_ISSUER else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise _invalid(
            "invalid_issuer",
            "issuer must be an https:// URL (the provider's issuer, as in its "
            "/.well-known/openid-configuration)"
            + ("" if settings.SSO_ALLOW_HTTP_ISSUER else "; http:// needs MINTMARK_SSO_ALLOW_HTTP"),
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _invalid("invalid_issuer", "issuer must have no query, fragment or credentials")
    if len(issuer) > 500:
        raise _invalid("invalid_issuer", "issuer must be at most 500 characters")
    return issuer


def _clean_role_groups(value) -> dict:
    if not isinstance(value, dict) or set(value) - set(ROLE_ORDER):
        raise _invalid(
            "invalid_role_groups",
            f"role_groups maps each role ({', '.join(ROLE_ORDER)}) to a list of group names",
        )
    cleaned = {}
    for role in ROLE_ORDER:
        groups = value.get(role, [])
        if not isinstance(groups, list) or len(groups) > 100:
            raise _invalid(
                "invalid_role_groups", f"role_groups.{role} must be a list of at most 100 groups"
            )
        names = []
        for group in groups:
            if not isinstance(group, str) or not group.strip() or len(group) > 200:
                raise _invalid(
                    "invalid_role_groups",
                    f"role_groups.{role}: each group is a non-empty name of at most 200 characters",
                )
            names.append(group.strip())
        cleaned[role] = names
    return cleaned


def sso_config_clean(values: dict) -> dict:
    """The values checked and normalised; a refusal is a 422 naming the field."""
    cleaned = dict(values)
    cleaned["issuer"] = _clean_issuer(values["issuer"])
    cleaned["client_id"] = values["client_id"].strip()
    if len(cleaned["client_id"]) > 200:
        raise _invalid("invalid_client_id", "client_id must be at most 200 characters")
    scopes = values["scopes"].split()
    if "openid" not in scopes or not all(_SCOPE.match(scope) for scope in scopes):
        raise _invalid("invalid_scopes", "scopes is a space-separated list that includes openid")
    cleaned["scopes"] = " ".join(scopes)
    if len(cleaned["scopes"]) > 300:
        raise _invalid("invalid_scopes", "scopes must be at most 300 characters")
    cleaned["groups_claim"] = values["groups_claim"].strip()
    if not _CLAIM.match(cleaned["groups_claim"]):
        raise _invalid(
            "invalid_groups_claim",
            "groups_claim is a claim name: 1 to 100 letters, digits or _ . : / -",
        )
    cleaned["role_groups"] = _clean_role_groups(values["role_groups"])
    if cleaned["enabled"]:
        if not cleaned["issuer"] or not cleaned["client_id"]:
            raise _invalid("sso_incomplete", "enabling SSO needs an issuer and a client_id")
        if not any(cleaned["role_groups"].values()):
            raise _invalid(
                "sso_incomplete", "enabling SSO needs at least one group mapped to a role"
            )
    elif not cleaned["password_login"]:
        raise _invalid(
            "password_login_needs_sso",
            "password login can be turned off only while SSO is enabled (else nobody could log in)",
        )
    return cleaned


def sso_config_update(*, org: Organization, actor, **changes) -> OrgSso:
    """Applies the given fields (others keep their value), validated as a whole, and records
    what changed in the audit log (never a secret: there is none here)."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise _invalid("invalid_request", f"unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        config = OrgSso.objects.select_for_update().filter(org=org).first() or OrgSso(org=org)
        before = {field: getattr(config, field) for field in FIELDS}
        cleaned = sso_config_clean({**before, **changes})
        changed = {
            field: {"from": before[field], "to": cleaned[field]}
            for field in FIELDS
            if before[field] != cleaned[field]
        }
        if not changed and config.pk:
            return config
        for field in FIELDS:
            setattr(config, field, cleaned[field])
        config.save()
        audit_append(
            org=org, actor=actor, action="sso.config_changed", subject=config, data=changed
        )
    return config


def sso_config_out(config: OrgSso) -> dict:
    slug = config.org.slug
    return {
        **{field: getattr(config, field) for field in FIELDS},
        "client_secret_variable": client_secret_variable(slug),
        "client_secret_configured": client_secret(slug) is not None,
        "updated_at": config.updated_at,
    }
