from datetime import datetime

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from orgs.access import ADMIN, require_role
from sso.config import sso_config, sso_config_out, sso_config_update

router = Router(tags=["sso"])


class SsoRoleGroups(Schema):
    model_config = ConfigDict(extra="forbid")

    admin: list[str] = Field(default_factory=list, max_length=100)
    staff: list[str] = Field(default_factory=list, max_length=100)
    reviewer: list[str] = Field(default_factory=list, max_length=100)
    auditor: list[str] = Field(default_factory=list, max_length=100)


class SsoConfigOut(Schema):
    enabled: bool
    issuer: str
    client_id: str
    scopes: str
    groups_claim: str
    role_groups: SsoRoleGroups
    password_login: bool
    client_secret_variable: str = Field(
        description="The environment variable (or NAME_FILE) the operator sets to the client "
        "secret; the secret is never stored in Mintmark's database."
    )
    client_secret_configured: bool
    updated_at: datetime | None


class SsoConfigPatch(Schema):
    enabled: bool | None = None
    issuer: str | None = Field(None, max_length=500)
    client_id: str | None = Field(None, max_length=200)
    scopes: str | None = Field(None, max_length=300)
    groups_claim: str | None = Field(None, max_length=100)
    role_groups: SsoRoleGroups | None = None
    password_login: bool | None = None


@router.get("/sso", response=SsoConfigOut)
def sso_get(request):
    membership = require_role(request, ADMIN)
    return sso_config_out(sso_config(membership.org))


@router.patch("/sso", response=SsoConfigOut)
def sso_patch(request, body: SsoConfigPatch):
    membership = require_role(request, ADMIN)
    changes = body.dict(exclude_none=True)
    config = sso_config_update(org=membership.org, actor=request.auth, **changes)
    return sso_config_out(config)
