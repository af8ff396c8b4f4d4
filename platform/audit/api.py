from typing import Literal

from ninja import Query, Router, Schema
from pydantic import Field

from audit.export import FORMATS, export_response
from audit.selectors import audit_events, audit_verify, event_record
from mintmark.pagination import PageParams, paginate
from mintmark.parsing import UtcDatetime
from orgs.access import ADMIN_AUDITOR, require_role

router = Router(tags=["audit"])


class EventFilters(PageParams):
    action: str | None = Field(None, max_length=100, description="exact, or a prefix ending in '.'")
    actor: str | None = Field(None, max_length=200, description="username, or 'system'")
    subject_type: str | None = Field(None, max_length=100)
    subject_id: str | None = Field(None, max_length=100)
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    format: Literal["json", "jsonl", "csv"] = "json"


class EventOut(Schema):
    org: str
    seq: int
    actor: int | None
    actor_label: str
    action: str
    subject_type: str
    subject_id: str
    data: dict
    created_at: str
    prev_hash: str
    hash: str


class EventPage(Schema):
    items: list[EventOut]
    count: int


class AuditVerifyOut(Schema):
    ok: bool
    checked: int
    first_bad_seq: int | None
    head_hash: str
    reason: str | None


# The exports answer 200 with another media type than the page of JSON.
_EXPORT_DOC = {
    "responses": {
        200: {
            "content": {
                media_type: {"schema": {"type": "string"}} for media_type in FORMATS.values()
            }
        }
    }
}


@router.get("/events", response=EventPage, openapi_extra=_EXPORT_DOC)
def events_list(request, filters: Query[EventFilters]):
    """Newest first, paged; `format=jsonl` or `csv` exports every matching event in seq order."""
    membership = require_role(request, ADMIN_AUDITOR)
    queryset = audit_events(
        org=membership.org,
        **filters.model_dump(
            include={"action", "actor", "subject_type", "subject_id", "since", "until"}
        ),
    )
    if filters.format != "json":
        return export_response(org=membership.org, events=queryset, fmt=filters.format)
    return paginate(queryset.order_by("-seq"), filters, event_record)


@router.get("/verify", response=AuditVerifyOut)
def verify(request):
    membership = require_role(request, ADMIN_AUDITOR)
    return audit_verify(org=membership.org).__dict__
