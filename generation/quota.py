"""Monthly image quota. A job holds `quota_images` from submission; a job that FAILED or was
CANCELLED gives them back (its quota_images drops to 0). Months are calendar months in UTC."""

from datetime import UTC, datetime

from django.db.models import Sum
from django.utils import timezone

from generation.models import GenerationJob
from mintmark.errors import ApiError
from policies.rules import PolicyRules
from policies.selectors import policy_active


def month_start(now: datetime | None = None) -> datetime:
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quota_used(*, org, user=None) -> int:
    jobs = GenerationJob.objects.for_org(org).filter(created_at__gte=month_start())
    if user is not None:
        jobs = jobs.filter(user=user)
    return jobs.aggregate(n=Sum("quota_images"))["n"] or 0


def quota_usage(*, org, user, rules) -> dict:
    org_used, user_used = quota_used(org=org), quota_used(org=org, user=user)
    org_limit, user_limit = rules.quota.org_monthly_images, rules.quota.user_monthly_images
    return {
        "period_start": month_start(),
        "org_limit": org_limit,
        "org_used": org_used,
        "org_left": max(org_limit - org_used, 0),
        "user_limit": user_limit,
        "user_used": user_used,
        "user_left": max(user_limit - user_used, 0),
    }


def membership_quota(membership) -> dict:
    """The month's usage for a member under the org's active policy (API /me, portal header)."""
    policy = policy_active(org=membership.org)
    usage = quota_usage(
        org=membership.org, user=membership.user, rules=PolicyRules.model_validate(policy.rules)
    )
    return {"policy_version": policy.version, **usage}


def quota_check(*, org, user, rules, images: int) -> None:
    """Refuses a job that would take the org or the user over the month's quota. Must run in
    the transaction that creates the job, with the org row locked, so two submissions cannot
    both take the last images."""
    usage = quota_usage(org=org, user=user, rules=rules)
    if images > usage["user_left"]:
        raise ApiError(
            429,
            "quota_exceeded",
            f"This job needs {images} image(s); you have {usage['user_left']} left this month "
            f"(limit {usage['user_limit']}).",
        )
    if images > usage["org_left"]:
        raise ApiError(
            429,
            "quota_exceeded",
            f"This job needs {images} image(s); the organization has {usage['org_left']} left "
            f"this month (limit {usage['org_limit']}).",
        )
