"""Abuse monitoring: blocked prompts and images are counted per user; reaching the policy's
limit within its window suspends the user from generating and alerts the org's admins (an
audit event and the alert list) until an admin lifts it."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_append
from mintmark.errors import ApiError
from moderation.models import AbuseEvent, Suspension
from policies.rules import PolicyRules


def suspension_open(*, org, user) -> Suspension | None:
    return Suspension.objects.for_org(org).filter(user=user, lifted_at__isnull=True).first()


def abuse_record(
    *, org, user, kind: str, category: str, rules: PolicyRules, job=None, asset=None
) -> Suspension | None:
    """Counts one blocked request; returns the suspension it caused, if any. Runs inside the
    caller's transaction (the audit event of the block is in the same one)."""
    AbuseEvent.objects.create(
        org=org, user=user, kind=kind, category=category, job=job, asset=asset
    )
    limit = rules.abuse.max_blocked
    if limit == 0 or suspension_open(org=org, user=user) is not None:
        return None
    since = timezone.now() - timedelta(hours=rules.abuse.window_hours)
    # Blocks before the last lift were already dealt with by an admin: they do not count again.
    lifted = (
        Suspension.objects.for_org(org)
        .filter(user=user, lifted_at__isnull=False)
        .order_by("-lifted_at")
        .values_list("lifted_at", flat=True)
        .first()
    )
    if lifted is not None and lifted > since:
        since = lifted
    recent = AbuseEvent.objects.for_org(org).filter(user=user, created_at__gte=since)
    if recent.count() < limit:
        return None
    counts = {value: recent.filter(kind=value).count() for value in AbuseEvent.Kind.values}
    reason = (
        f"{sum(counts.values())} blocked requests within {rules.abuse.window_hours} h "
        f"(the policy allows {limit - 1})"
    )
    try:
        with transaction.atomic():
            suspension = Suspension.objects.create(org=org, user=user, reason=reason, counts=counts)
    except IntegrityError:
        # Another block of the same user suspended them a moment ago.
        return None
    audit_append(
        org=org,
        actor=None,
        action="abuse.suspended",
        subject=suspension,
        data={"user": user.get_username(), "reason": reason, "counts": counts},
    )
    return suspension


def suspension_lift(*, suspension: Suspension, actor, reason: str) -> Suspension:
    reason = reason.strip()
    if not reason:
        raise ApiError(422, "reason_required", "Say why the suspension is lifted.")
    with transaction.atomic():
        locked = Suspension.objects.select_for_update().get(pk=suspension.pk)
        if locked.lifted_at is not None:
            raise ApiError(409, "already_lifted", "This suspension was already lifted.")
        locked.lifted_at = timezone.now()
        locked.lifted_by = actor
        locked.lift_reason = reason
        locked.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit_append(
            org=locked.org,
            actor=actor,
            action="abuse.lifted",
            subject=locked,
            data={"user": locked.user.get_username(), "reason": reason},
        )
    return locked
