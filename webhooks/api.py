from datetime import datetime
from uuid import UUID

from ninja import Query, Router, Schema, Status
from pydantic import Field

from generation.selectors import jobs_visible
from mintmark.pagination import PageQuery, page_schema, paginate
from orgs.access import ADMIN, ALL_ROLES, require_role
from webhooks.models import Delivery, DeliveryAttempt, WebhookConfig
from webhooks.selectors import deliveries_visible
from webhooks.services import (
    MAX_ALLOWED_HOSTS,
    allowed_hosts_set,
    config_of,
    delivery_redeliver,
    secret_rotate,
)

router = Router(tags=["webhooks"])


class WebhookSettingsOut(Schema):
    allowed_hosts: list[str]
    secret_hint: str = Field(
        description="The start of the secret; the secret itself is shown once."
    )
    secret_created_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="Until then requests carry a second v1 signature with the previous secret."
    )


class AllowedHostsIn(Schema):
    hosts: list[str] = Field(
        ...,
        max_length=MAX_ALLOWED_HOSTS,
        description="Host names, IP addresses or *.domain (every host under the domain).",
    )


class WebhookSecretOut(WebhookSettingsOut):
    secret: str = Field(description="Shown only in this answer; store it in the receiver.")


class AttemptOut(Schema):
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str
    next_attempt_at: datetime | None


class DeliveryOut(Schema):
    id: UUID
    job: UUID
    event_id: UUID
    event_type: str
    url: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    redelivery_of: UUID | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryDetailOut(DeliveryOut):
    body: str = Field(description="The event exactly as sent (the signed bytes).")
    attempt_list: list[AttemptOut]


class DeliveryQuery(Schema):
    job: UUID | None = None
    state: Delivery.State | None = None


def _settings_out(config: WebhookConfig) -> dict:
    return {
        "allowed_hosts": config.allowed_hosts,
        "secret_hint": config.secret_hint,
        "secret_created_at": config.secret_created_at,
        "previous_secret_valid_until": config.previous_until,
    }


def _attempt_out(attempt: DeliveryAttempt) -> dict:
    return {
        "number": attempt.number,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "next_attempt_at": attempt.next_attempt_at,
    }


def delivery_out(delivery: Delivery) -> dict:
    last = delivery.last_attempt
    return {
        "id": delivery.pk,
        "job": delivery.job_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "url": delivery.url,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": last.status_code if last else None,
        "last_error": last.error if last else "",
        "redelivery_of": delivery.redelivery_of_id,
        "created_at": delivery.created_at,
        "finished_at": delivery.finished_at,
    }


def _detail_out(delivery: Delivery) -> dict:
    return {
        **delivery_out(delivery),
        "body": delivery.body,
        "attempt_list": [_attempt_out(a) for a in delivery.attempt_set.all()],
    }


@router.get("/webhooks/settings", response=WebhookSettingsOut)
def webhooks_settings(request):
    """The hosts this org's jobs may call back and which secret signs the requests."""
    membership = require_role(request, ADMIN)
    return _settings_out(config_of(org=membership.org))


@router.put("/webhooks/allowed-hosts", response=WebhookSettingsOut)
def webhooks_allowed_hosts(request, body: AllowedHostsIn):
    """Replaces the allow-list; a job may name a callback only on these hosts (audited)."""
    membership = require_role(request, ADMIN)
    config = allowed_hosts_set(org=membership.org, actor=membership.user, hosts=body.hosts)
    return _settings_out(config)


@router.post("/webhooks/secret", response={201: WebhookSecretOut})
def webhooks_secret_rotate(request):
    """Creates the signing secret, or replaces it (the old one keeps signing alongside for the
    overlap); the secret is in this answer only."""
    membership = require_role(request, ADMIN)
    config, secret = secret_rotate(org=membership.org, actor=membership.user)
    return Status(201, {**_settings_out(config), "secret": secret})


@router.get("/webhooks/deliveries", response=page_schema(DeliveryOut))
def webhooks_deliveries(request, page: PageQuery, filters: Query[DeliveryQuery]):
    """Deliveries of the jobs the caller sees, newest first; `job` and `state` narrow them."""
    membership = require_role(request, ALL_ROLES)
    deliveries = deliveries_visible(membership=membership).prefetch_related("attempt_set")
    if filters.job is not None:
        deliveries = deliveries.filter(job_id=filters.job)
    if filters.state is not None:
        deliveries = deliveries.filter(state=filters.state)
    return paginate(deliveries, page, delivery_out)


@router.get("/generations/{job_id}/deliveries", response=page_schema(DeliveryOut))
def generations_deliveries(request, job_id: UUID, page: PageQuery):
    """The webhook deliveries of one job."""
    membership = require_role(request, ALL_ROLES)
    job = jobs_visible(membership=membership).get_for_org(membership.org, pk=job_id)
    deliveries = deliveries_visible(membership=membership).filter(job=job)
    return paginate(deliveries.prefetch_related("attempt_set"), page, delivery_out)


@router.get("/webhooks/deliveries/{delivery_id}", response=DeliveryDetailOut)
def webhooks_delivery(request, delivery_id: UUID):
    """One delivery with the body it sends and every attempt."""
    membership = require_role(request, ALL_ROLES)
    delivery = deliveries_visible(membership=membership).get_for_org(membership.org, pk=delivery_id)
    return _detail_out(delivery)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response={202: DeliveryOut})
def webhooks_redeliver(request, delivery_id: UUID):
    """Sends a delivered or failed event again as a new delivery (same event id)."""
    membership = require_role(request, ADMIN)
    delivery = Delivery.objects.get_for_org(membership.org, pk=delivery_id)
    return Status(202, delivery_out(delivery_redeliver(delivery=delivery, actor=membership.user)))
