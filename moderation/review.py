"""Human review: assets held IN_REVIEW wait for a reviewer of their org, who approves (the
asset goes on to provenance stamping and release) or rejects (it ends REJECTED), always with a
reason. Nobody decides on a job they submitted themselves (four-eyes rule)."""

from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.http import FileResponse

from audit.services import audit_append
from generation.models import Asset, GenerationJob
from generation.transitions import asset_transition
from mintmark.errors import ApiError
from moderation.models import Hold, Review
from orgs.models import Membership

REVIEWERS = frozenset({Membership.Role.REVIEWER})
MAX_REASON = 2_000
# A held image of a job that ended (cancelled, failed) can no longer be released or rejected.
OPEN_JOB_STATES = (GenerationJob.State.GATING, GenerationJob.State.IN_REVIEW)


def review_queue(*, membership):
    """Held assets of the org that this reviewer may decide: not from their own jobs, not yet
    decided; oldest first."""
    return (
        Asset.objects.for_org(membership.org)
        .filter(state=Asset.State.IN_REVIEW, review__isnull=True)
        .filter(job__state__in=OPEN_JOB_STATES)
        .exclude(job__user=membership.user)
        .select_related("job__user", "job__model", "job__policy")
        .order_by("created_at")
    )


def review_image(*, membership, asset_id) -> FileResponse:
    """The held (quarantined) image, for the reviewers who may decide on it."""
    asset = review_queue(membership=membership).get_for_org(membership.org, pk=asset_id)
    handle = storages["quarantine"].open(asset.quarantine_key)
    response = FileResponse(handle, content_type="image/png")
    # Quarantined content: never kept by a browser or a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


def hold_reasons(*, org, asset_ids) -> dict[str, list[str]]:
    """Why each asset was held for review, as gating recorded it when it decided so (a gate
    asking for review, the deployment context, the prompt)."""
    holds = Hold.objects.for_org(org).filter(asset_id__in=list(asset_ids))
    return {str(hold.asset_id): hold.reasons for hold in holds}


_STATE_WORDS = {
    Asset.State.QUARANTINED: "still being checked by the gates; it was not held for review",
    Asset.State.BLOCKED: "blocked by the gates; it was never held for review",
    Asset.State.RELEASED: "released without review",
    Asset.State.REJECTED: "rejected",
    # Only reached when another reviewer's decision is not visible yet.
    Asset.State.IN_REVIEW: "another reviewer decided on it a moment ago",
}


def _not_awaiting(asset: Asset, review: Review | None) -> str:
    """Why a decision on this asset is refused, saying what already happened to it."""
    if review is not None:
        verb = "approved" if review.decision == Review.Decision.APPROVE else "rejected"
        at = review.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        now = f"the asset is {asset.state}"
        if asset.state == Asset.State.IN_REVIEW:
            now += ", waiting for stamping and release"
        return f"Already {verb} by {review.reviewer.username} at {at}; {now}."
    return f"The asset is {asset.state}: {_STATE_WORDS.get(asset.state, asset.state)}."


def review_decide(*, membership, asset_id, decision: str, reason: str) -> Review:
    from moderation.tasks import evaluate_job

    reason = (reason or "").strip()
    if decision not in Review.Decision.values:
        raise ApiError(422, "invalid_decision", "decision must be 'approve' or 'reject'.")
    if not reason:
        raise ApiError(422, "reason_required", "A review needs a reason.")
    if len(reason) > MAX_REASON:
        raise ApiError(422, "reason_too_long", f"The reason is over {MAX_REASON} characters.")
    reviewer = membership.user
    with transaction.atomic():
        asset = Asset.objects.for_org(membership.org).select_related("job")
        asset = asset.select_for_update(of=("self",)).filter(pk=asset_id).first()
        if asset is None:
            raise ApiError(404, "not_found", "No such asset.")
        if asset.job.user_id == reviewer.pk:
            raise ApiError(403, "own_job", "You cannot review an image from a job you submitted.")
        existing = Review.objects.filter(asset=asset).select_related("reviewer").first()
        if asset.state != Asset.State.IN_REVIEW or existing is not None:
            raise ApiError(409, "not_in_review", _not_awaiting(asset, existing))
        if asset.job.state not in OPEN_JOB_STATES:
            raise ApiError(409, "job_ended", f"The job already ended {asset.job.state}.")
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    asset=asset, reviewer=reviewer, decision=decision, reason=reason
                )
        except IntegrityError:
            existing = Review.objects.select_related("reviewer").filter(asset=asset).first()
            raise ApiError(409, "not_in_review", _not_awaiting(asset, existing)) from None
        audit_append(
            org=membership.org,
            actor=reviewer,
            action=f"review.{decision}",
            subject=asset,
            data={"job": str(asset.job_id), "reason": reason},
        )
        if decision == Review.Decision.REJECT:
            asset_transition(
                asset_id=asset.pk, to=Asset.State.REJECTED, actor=reviewer, reason=reason
            )
        else:
            job_id = str(asset.job_id)
            # Stamping runs on the gates queue; the asset stays IN_REVIEW until it is released.
            transaction.on_commit(lambda: evaluate_job.delay(job_id))
    return review
