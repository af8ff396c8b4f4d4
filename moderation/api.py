from datetime import datetime
from uuid import UUID

from django.db.models import F
from ninja import Router, Schema
from pydantic import Field

from generation.models import Asset
from mintmark.pagination import PageQuery, page_schema, paginate
from moderation.abuse import suspension_lift
from moderation.models import GateResult, Review, Suspension
from moderation.review import REVIEWERS, review_decide, review_image, review_queue
from orgs.access import ADMIN, require_role

router = Router(tags=["moderation"])


class GateResultOut(Schema):
    gate: str
    gate_version: str
    verdict: str
    reason: str
    scores: dict
    details: dict
    duration_ms: float
    created_at: datetime


class ReviewItemOut(Schema):
    asset: UUID
    job: UUID
    index: int
    submitted_by: str
    prompt: str
    negative_prompt: str
    context: str
    model: str
    policy_version: int
    image_url: str = Field(description="The held image, for reviewers of this org only.")
    gate_results: list[GateResultOut]
    created_at: datetime


class ReviewIn(Schema):
    decision: str = Field(..., description="approve or reject")
    reason: str = Field(..., max_length=10_000)


class ReviewOut(Schema):
    id: UUID
    asset: UUID
    reviewer: str
    decision: str
    reason: str
    created_at: datetime


class SuspensionOut(Schema):
    id: UUID
    user: str
    reason: str
    counts: dict
    created_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str


class LiftIn(Schema):
    reason: str = Field(..., max_length=2_000)


def gate_result_out(result: GateResult) -> dict:
    return {
        "gate": result.gate,
        "gate_version": result.gate_version,
        "verdict": result.verdict,
        "reason": result.reason,
        "scores": result.scores,
        "details": result.details,
        "duration_ms": result.duration_ms,
        "created_at": result.created_at,
    }


def _review_item(asset: Asset) -> dict:
    job = asset.job
    return {
        "asset": asset.pk,
        "job": job.pk,
        "index": asset.index,
        "submitted_by": job.user.username,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "context": job.context,
        "model": str(job.model),
        "policy_version": job.policy.version,
        "image_url": f"/api/reviews/{asset.pk}/image",
        "gate_results": [gate_result_out(r) for r in asset.gate_results.order_by("created_at")],
        "created_at": asset.created_at,
    }


def _review_out(review: Review) -> dict:
    return {
        "id": review.pk,
        "asset": review.asset_id,
        "reviewer": review.reviewer.username,
        "decision": review.decision,
        "reason": review.reason,
        "created_at": review.created_at,
    }


def _suspension_out(suspension: Suspension) -> dict:
    return {
        "id": suspension.pk,
        "user": suspension.user.username,
        "reason": suspension.reason,
        "counts": suspension.counts,
        "created_at": suspension.created_at,
        "lifted_at": suspension.lifted_at,
        "lifted_by": suspension.lifted_by.username if suspension.lifted_by else None,
        "lift_reason": suspension.lift_reason,
    }


@router.get("/reviews", response=page_schema(ReviewItemOut))
def reviews_queue(request, page: PageQuery):
    """Held images awaiting a decision, oldest first; a reviewer's own jobs are not listed."""
    membership = require_role(request, REVIEWERS)
    return paginate(review_queue(membership=membership), page, _review_item)


@router.get("/reviews/{asset_id}/image")
def reviews_image(request, asset_id: UUID):
    """The held (quarantined) image, for the reviewers who may decide on it."""
    membership = require_role(request, REVIEWERS)
    return review_image(membership=membership, asset_id=asset_id)


@router.post("/reviews/{asset_id}", response=ReviewOut)
def reviews_decide(request, asset_id: UUID, body: ReviewIn):
    """approve: the image goes on to stamping and release; reject: it ends REJECTED."""
    membership = require_role(request, REVIEWERS)
    review = review_decide(
        membership=membership, asset_id=asset_id, decision=body.decision, reason=body.reason
    )
    return _review_out(review)


@router.get("/abuse/alerts", response=page_schema(SuspensionOut))
def abuse_alerts(request, page: PageQuery):
    """Users suspended for repeated blocked requests, open ones first, then newest."""
    membership = require_role(request, ADMIN)
    suspensions = (
        Suspension.objects.for_org(membership.org)
        .select_related("user", "lifted_by")
        .order_by(F("lifted_at").desc(nulls_first=True), "-created_at")
    )
    return paginate(suspensions, page, _suspension_out)


@router.post("/abuse/alerts/{suspension_id}/lift", response=SuspensionOut)
def abuse_lift(request, suspension_id: UUID, body: LiftIn):
    membership = require_role(request, ADMIN)
    suspension = Suspension.objects.get_for_org(membership.org, pk=suspension_id)
    return _suspension_out(
        suspension_lift(suspension=suspension, actor=membership.user, reason=body.reason)
    )
