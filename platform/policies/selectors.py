from mintmark.errors import ApiError
from orgs.models import Organization
from policies.models import Policy
from policies.rules import PolicyRules


def policy_active(*, org: Organization) -> Policy:
    policy = Policy.objects.for_org(org).order_by("-version").first()
    if policy is None:
        raise ApiError(
            409, "no_policy", "This organization has no policy yet; an admin must set one."
        )
    return policy


def policy_active_rules(*, org: Organization) -> PolicyRules:
    return PolicyRules.model_validate(policy_active(org=org).rules)
