from django.db import transaction
from django.db.models import Max
from pydantic import ValidationError

from audit.services import audit_append
from mintmark.errors import ApiError
from orgs.models import Organization
from policies.models import Policy
from policies.rules import PolicyRules


def validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "rules"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


class PolicyInvalid(ApiError):
    """A refused policy. Keeps each problem with the dotted path of its field, so a form can
    show it beside that field; the API body is the usual one."""

    def __init__(self, exc: ValidationError) -> None:
        super().__init__(422, "invalid_policy", validation_message(exc))
        self.problems = [
            (".".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()
        ]


def policy_rules_validate(rules: dict) -> dict:
    """Returns the full, normalised rules, or raises PolicyInvalid (422) naming every bad field."""
    if not isinstance(rules, dict):
        raise ApiError(422, "invalid_policy", "rules must be a JSON object")
    try:
        return PolicyRules.model_validate(rules).model_dump(mode="json")
    except ValidationError as exc:
        raise PolicyInvalid(exc) from None


def policy_create(*, org: Organization, actor, rules: dict, note: str = "") -> Policy:
    """Stores a new policy version for the org and makes it the active one."""
    normalised = policy_rules_validate(rules)
    with transaction.atomic():
        Organization.objects.select_for_update().only("id").get(pk=org.pk)
        current = Policy.objects.for_org(org).aggregate(v=Max("version"))["v"] or 0
        policy = Policy.objects.create(
            org=org, version=current + 1, rules=normalised, note=note, created_by=actor
        )
        audit_append(
            org=org,
            actor=actor,
            action="policy.created",
            subject=policy,
            data={"version": policy.version, "note": note, "rules": normalised},
        )
    return policy
