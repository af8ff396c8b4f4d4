from datetime import datetime
from uuid import UUID

from ninja import Router, Schema, Status
from pydantic import Field

from mintmark.errors import ApiError
from mintmark.pagination import PageQuery, page_schema, paginate
from orgs.access import ADMIN, ALL_ROLES, request_membership, require_role
from orgs.models import ApiToken, Membership
from orgs.services import member_add, member_remove, member_role_update, token_create, token_revoke
from orgs.usage import membership_usage

router = Router(tags=["organization"])


class OrgOut(Schema):
    id: UUID
    name: str
    slug: str


class QuotaOut(Schema):
    policy_version: int
    period_start: datetime
    org_limit: int
    org_used: int
    org_left: int
    user_limit: int
    user_used: int
    user_left: int


class MeOut(Schema):
    user: str
    email: str
    org: OrgOut
    role: str
    orgs: list[str]
    quota: QuotaOut


class MemberOut(Schema):
    id: UUID
    user: str
    email: str
    role: str
    created_at: datetime


class MemberIn(Schema):
    email: str = Field(..., min_length=3, max_length=150, pattern=r"^[^@\s]+@[^@\s]+$")
    role: str
    password: str | None = Field(None, min_length=8, max_length=200)


class MemberPatch(Schema):
    role: str


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)


class TokenOut(Schema):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The secret. Shown once; store it now.")


def _member_out(membership: Membership) -> dict:
    return {
        "id": membership.id,
        "user": membership.user.username,
        "email": membership.user.email,
        "role": membership.role,
        "created_at": membership.created_at,
    }


@router.get("/me", response=MeOut)
def me(request):
    membership = request_membership(request)
    user = membership.user
    return {
        "user": user.username,
        "email": user.email,
        "org": membership.org,
        "role": membership.role,
        "orgs": [m.org.slug for m in user.memberships.select_related("org")],
        "quota": membership_usage(membership),
    }


@router.get("/members", response=page_schema(MemberOut))
def members_list(request, page: PageQuery):
    membership = require_role(request, ADMIN)
    queryset = (
        Membership.objects.for_org(membership.org).select_related("user").order_by("-created_at")
    )
    return paginate(queryset, page, _member_out)


@router.post("/members", response={201: MemberOut})
def members_add(request, body: MemberIn):
    membership = require_role(request, ADMIN)
    added = member_add(
        org=membership.org,
        actor=request.auth,
        email=body.email,
        role=body.role,
        password=body.password,
    )
    return Status(201, _member_out(added))


@router.patch("/members/{member_id}", response=MemberOut)
def members_update(request, member_id: UUID, body: MemberPatch):
    membership = require_role(request, ADMIN)
    target = Membership.objects.get_for_org(membership.org, pk=member_id)
    return _member_out(member_role_update(membership=target, actor=request.auth, role=body.role))


@router.delete("/members/{member_id}", response={204: None})
def members_remove(request, member_id: UUID):
    membership = require_role(request, ADMIN)
    target = Membership.objects.get_for_org(membership.org, pk=member_id)
    member_remove(membership=target, actor=request.auth)
    return Status(204, None)


@router.get("/tokens", response=page_schema(TokenOut))
def tokens_list(request, page: PageQuery):
    membership = require_role(request, ALL_ROLES)
    queryset = ApiToken.objects.filter(user=membership.user).order_by("-created_at")
    return paginate(queryset, page, lambda t: t)


@router.post("/tokens", response={201: TokenCreatedOut})
def tokens_create(request, body: TokenIn):
    membership = require_role(request, ALL_ROLES)
    issued = token_create(membership=membership, name=body.name)
    return Status(201, {**TokenOut.from_orm(issued.token).model_dump(), "token": issued.secret})


@router.delete("/tokens/{token_id}", response={204: None})
def tokens_revoke(request, token_id: UUID):
    membership = require_role(request, ALL_ROLES)
    # Tokens are the caller's own: anyone else's token is as unknown as a missing one.
    token = ApiToken.objects.filter(user=membership.user, pk=token_id).first()
    if token is None:
        raise ApiError(404, "not_found", "No such token.")
    token_revoke(membership=membership, token=token)
    return Status(204, None)
