from datetime import datetime
from uuid import UUID

from ninja import Router, Schema, Status
from pydantic import Field

from mintmark.pagination import PageQuery, page_schema, paginate
from orgs.access import ADMIN, ALL_ROLES, require_role
from policies.models import Policy
from policies.rules import PolicyRules
from policies.services import policy_create

router = Router(tags=["policies"])


class PolicyIn(Schema):
    rules: dict = Field(..., description="Policy rules; see the PolicyRules schema.")
    note: str = Field("", max_length=500)


class PolicyOut(Schema):
    id: UUID
    version: int
    rules: PolicyRules
    note: str
    created_by: str | None
    created_at: datetime
    active: bool


def _policy_out(policy: Policy, active_version: int) -> dict:
    return {
        "id": policy.id,
        "version": policy.version,
        "rules": policy.rules,
        "note": policy.note,
        "created_by": policy.created_by.username if policy.created_by else None,
        "created_at": policy.created_at,
        "active": policy.version == active_version,
    }


def _active_version(org) -> int:
    return (
        Policy.objects.for_org(org).order_by("-version").values_list("version", flat=True).first()
    )


@router.get("/policies", response=page_schema(PolicyOut))
def policies_list(request, page: PageQuery):
    membership = require_role(request, ALL_ROLES)
    active = _active_version(membership.org)
    queryset = (
        Policy.objects.for_org(membership.org).select_related("created_by").order_by("-version")
    )
    return paginate(queryset, page, lambda p: _policy_out(p, active))


@router.post("/policies", response={201: PolicyOut})
def policies_create(request, body: PolicyIn):
    membership = require_role(request, ADMIN)
    policy = policy_create(org=membership.org, actor=request.auth, rules=body.rules, note=body.note)
    return Status(201, _policy_out(policy, policy.version))


@router.get("/policies/{version}", response=PolicyOut)
def policies_get(request, version: int):
    membership = require_role(request, ALL_ROLES)
    policy = Policy.objects.get_for_org(membership.org, version=version)
    return _policy_out(policy, _active_version(membership.org))
