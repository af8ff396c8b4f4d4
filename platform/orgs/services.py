from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_append
from licensing.services import licences_seed_standard
from mintmark.errors import ApiError
from orgs.models import ApiToken, Membership, Organization
from orgs.tokens import token_digest, token_generate
from policies.rules import default_rules
from policies.services import policy_create

User = get_user_model()


def org_create(*, name: str, slug: str = "", actor=None) -> Organization:
    """Creates an organization with its first policy (the defaults) and the standard licences."""
    slug = slugify(slug or name)
    if not slug:
        raise ApiError(422, "invalid_org", "An organization needs a name or slug.")
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise ApiError(409, "org_exists", f"An organization with slug {slug!r} exists.")
        org = Organization.objects.create(name=name, slug=slug)
        audit_append(org=org, actor=actor, action="org.created", subject=org, data={"slug": slug})
        policy_create(org=org, actor=actor, rules=default_rules(), note="defaults")
        licences_seed_standard(org=org, actor=actor)
    return org


def _user_for_email(*, email: str, password: str | None):
    user = User.objects.filter(username__iexact=email).first()
    if user is not None:
        return user
    user = User(username=email, email=email)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApiError(422, "weak_password", " ".join(exc.messages)) from None
        user.set_password(password)
    else:
        # The account exists but cannot log in until an operator sets a password.
        user.set_unusable_password()
    user.save()
    return user


def member_add(*, org: Organization, actor, email: str, role: str, password: str | None = None):
    if role not in Membership.Role.values:
        raise ApiError(
            422, "invalid_role", f"role must be one of {', '.join(Membership.Role.values)}"
        )
    with transaction.atomic():
        user = _user_for_email(email=email.strip().lower(), password=password)
        if Membership.objects.filter(org=org, user=user).exists():
            raise ApiError(409, "already_member", f"{email} is already a member.")
        membership = Membership.objects.create(org=org, user=user, role=role)
        audit_append(
            org=org,
            actor=actor,
            action="member.added",
            subject=membership,
            data={"user": user.username, "role": role},
        )
    return membership


def _members_lock(org_id) -> None:
    # Taken before the membership's own row: two admins demoting or removing each other at once
    # each lock a different membership, both count two admins, and the org is left with none.
    # Locking the org row first (as audit_append does later) makes the second wait for the
    # first's commit and count again.
    Organization.objects.select_for_update().only("id").get(pk=org_id)


def _membership_locked(pk) -> Membership:
    membership = Membership.objects.select_for_update().filter(pk=pk).first()
    if membership is None:
        # Removed by a request that held the lock first (two admins removing one member).
        raise ApiError(404, "not_found", "No such membership.")
    return membership


def _refuse_losing_last_admin(membership: Membership) -> None:
    if membership.role != Membership.Role.ADMIN:
        return
    admins = Membership.objects.for_org(membership.org_id).filter(role=Membership.Role.ADMIN)
    if admins.count() <= 1:
        raise ApiError(409, "last_admin", "An organization must keep at least one admin.")


def member_role_update(*, membership: Membership, actor, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ApiError(
            422, "invalid_role", f"role must be one of {', '.join(Membership.Role.values)}"
        )
    with transaction.atomic():
        _members_lock(membership.org_id)
        membership = _membership_locked(membership.pk)
        if membership.role == role:
            return membership
        if role != Membership.Role.ADMIN:
            _refuse_losing_last_admin(membership)
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_append(
            org=membership.org,
            actor=actor,
            action="member.role_changed",
            subject=membership,
            data={"user": membership.user.username, "from": old, "to": role},
        )
    return membership


def member_remove(*, membership: Membership, actor) -> None:
    with transaction.atomic():
        _members_lock(membership.org_id)
        membership = _membership_locked(membership.pk)
        _refuse_losing_last_admin(membership)
        audit_append(
            org=membership.org,
            actor=actor,
            action="member.removed",
            subject=membership,
            data={"user": membership.user.username, "role": membership.role},
        )
        membership.delete()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


# Active tokens a user may hold: each is a standing credential to audit and revoke, and an
# unbounded number of them is a way to fill the table.
MAX_ACTIVE_TOKENS = 50


def token_create(*, membership: Membership, name: str) -> IssuedToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiError(422, "invalid_name", "A token needs a name of 1 to 100 characters.")
    secret = token_generate()
    with transaction.atomic():
        # The user's row is locked so that concurrent creates count one after the other.
        get_user_model().objects.select_for_update().only("id").get(pk=membership.user_id)
        active = ApiToken.objects.filter(user=membership.user, revoked_at=None).count()
        if active >= MAX_ACTIVE_TOKENS:
            raise ApiError(
                409,
                "too_many_tokens",
                f"You hold {active} active API tokens, the most one user may; revoke one first.",
            )
        try:
            token = ApiToken.objects.create(
                user=membership.user, name=name, token_hash=token_digest(secret), prefix=secret[:8]
            )
        except IntegrityError:
            raise ApiError(409, "token_collision", "Try again.") from None
        audit_append(
            org=membership.org,
            actor=membership.user,
            action="token.created",
            subject=token,
            data={"name": name, "prefix": token.prefix},
        )
    return IssuedToken(token=token, secret=secret)


def token_revoke(*, membership: Membership, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_append(
            org=membership.org,
            actor=membership.user,
            action="token.revoked",
            subject=token,
            data={"name": token.name, "prefix": token.prefix},
        )
    return token


def token_authenticate(*, secret: str):
    """The user behind an active token, or None. Records last use at most once a minute so
    every API call does not become a write."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    stale = now - timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
