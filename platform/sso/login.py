"""What an SSO login does to Mintmark's records: the account, the membership and its role,
decided from the provider's claims, each step in the org's audit log."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.services import audit_append
from orgs.models import Membership, Organization
from sso.models import ROLE_ORDER, OrgSso, SsoIdentity

User = get_user_model()


@dataclass(frozen=True)
class LoginOutcome:
    user: object | None
    role: str | None
    refusal: str | None = None


def claim_groups(claims: dict, claim: str) -> list[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def mapped_role(config: OrgSso, groups: list[str]) -> str | None:
    """The first role, in the order admin, staff, reviewer, auditor, that one of the groups
    maps to."""
    held = set(groups)
    for role in ROLE_ORDER:
        if held & set(config.role_groups.get(role, [])):
            return role
    return None


def sso_refusal_record(*, org: Organization, reason: str, detail: str, data=None) -> None:
    with transaction.atomic():
        audit_append(
            org=org,
            actor=None,
            action="sso.login_refused",
            data={"reason": reason, "detail": detail, **(data or {})},
        )


def _reach_refusal(config: OrgSso, user) -> str | None:
    """Why this org's provider must not sign in as `user`: an org's provider must never sign
    in as an operator or as a member of another org. Checked at every login, not only when the
    account is first linked, so an account that gained more reach since is not signed in."""
    if user.is_staff or user.is_superuser:
        return "an operator's account cannot sign in through an org's provider"
    if Membership.objects.filter(user=user).exclude(org=config.org).exists():
        return "the account belongs to another organization as well"
    return None


def _account(config: OrgSso, issuer: str, subject: str, email: str, *, create: bool):
    """The account this subject signs in as, or (None, why) when it must not. An existing
    account is taken over by email only when nothing but this org could be reached with it."""
    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(org=config.org, issuer=issuer, subject=subject)
        .first()
    )
    if identity is not None:
        why = _reach_refusal(config, identity.user)
        return (None, None, why) if why else (identity.user, identity, None)
    user = User.objects.filter(username__iexact=email).first()
    if user is None and not create:
        return None, None, None
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    elif why := _reach_refusal(config, user):
        return None, None, why
    identity = SsoIdentity.objects.create(org=config.org, issuer=issuer, subject=subject, user=user)
    return user, identity, None


def sso_login(*, config: OrgSso, claims: dict) -> LoginOutcome:
    """Applies one verified login. A refusal is recorded (and any membership the groups no
    longer justify is removed) in a transaction that commits, so the refusal stands."""
    org = config.org
    issuer, subject = config.issuer, str(claims.get("sub", ""))
    email = str(claims.get("email") or "").strip().lower()
    groups = claim_groups(claims, config.groups_claim)
    seen = {"subject": subject, "email": email, "groups": groups}
    if not subject or not email or "@" not in email or len(email) > 150:
        detail = "the provider sent no usable email claim"
        sso_refusal_record(org=org, reason="no_email", detail=detail, data=seen)
        return LoginOutcome(None, None, f"Sign-in refused: {detail}.")
    role = mapped_role(config, groups)
    with transaction.atomic():
        user, identity, why = _account(config, issuer, subject, email, create=role is not None)
        if user is None and why:
            audit_append(
                org=org,
                actor=None,
                action="sso.login_refused",
                data={"reason": "account_conflict", "detail": why, **seen},
            )
            return LoginOutcome(None, None, f"Sign-in refused: {why}.")
        membership = (
            Membership.objects.select_for_update().filter(org=org, user=user).first()
            if user is not None
            else None
        )
        if role is None:
            if membership is not None:
                audit_append(
                    org=org,
                    actor=None,
                    action="sso.member_removed",
                    subject=membership,
                    data={"user": user.username, "role": membership.role, "groups": groups},
                )
                membership.delete()
            audit_append(
                org=org,
                actor=None,
                action="sso.login_refused",
                data={"reason": "no_mapped_group", "detail": "no group maps to a role", **seen},
            )
            return LoginOutcome(
                None,
                None,
                f"Sign-in refused: none of your groups at {org.name} maps to a Mintmark role. "
                "Ask your administrator for access.",
            )
        if not user.is_active:
            audit_append(
                org=org,
                actor=user,
                action="sso.login_refused",
                data={"reason": "account_disabled", "detail": "the account is disabled", **seen},
            )
            return LoginOutcome(None, None, "Sign-in refused: this account is disabled.")
        if membership is None:
            membership = Membership.objects.create(org=org, user=user, role=role)
            audit_append(
                org=org,
                actor=None,
                action="sso.member_added",
                subject=membership,
                data={"user": user.username, "role": role, "groups": groups},
            )
        elif membership.role != role:
            audit_append(
                org=org,
                actor=None,
                action="sso.role_changed",
                subject=membership,
                data={"user": user.username, "from": membership.role, "to": role, "groups": groups},
            )
            membership.role = role
            membership.save(update_fields=["role"])
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        audit_append(
            org=org,
            actor=user,
            action="sso.login",
            subject=membership,
            data={"user": user.username, "role": role, "issuer": issuer, **seen},
        )
    return LoginOutcome(user, role)


def password_login_refused(user) -> list[Organization]:
    """The orgs of this account that allow no password login (operators are exempt: the
    admin site is theirs)."""
    if user.is_superuser:
        return []
    return list(
        Organization.objects.filter(
            memberships__user=user, sso__enabled=True, sso__password_login=False
        )
    )
