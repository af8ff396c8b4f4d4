"""The one place where a generation job changes state.

Every change runs under `select_for_update`, checks that the move is allowed from the state
the row is in now, and is a no-op otherwise, so a task that runs twice (a redelivery after a
worker died) cannot release, fail or bill twice. Each change writes its audit event in the same
transaction."""

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from audit.services import audit_append
from generation.job_news import job_news_send
from generation.models import Asset, GenerationJob
from mintmark import metrics

State = GenerationJob.State

TERMINAL = frozenset({State.RELEASED, State.BLOCKED, State.REJECTED, State.FAILED, State.CANCELLED})
ALLOWED = {
    State.QUEUED: {State.RUNNING, State.FAILED, State.CANCELLED},
    # RUNNING → QUEUED hands a job back (split after running out of GPU memory, stale claim).
    State.RUNNING: {State.QUEUED, State.GATING, State.FAILED, State.CANCELLED},
    State.GATING: {State.IN_REVIEW, State.RELEASED, State.BLOCKED, State.FAILED, State.CANCELLED},
    State.IN_REVIEW: {State.RELEASED, State.REJECTED, State.BLOCKED, State.FAILED, State.CANCELLED},
}
# Quota is given back when a job produced nothing the org keeps (README: "Quota").
RELEASES_QUOTA = frozenset({State.FAILED, State.CANCELLED})
# Sent inside the transition's transaction with `job`, `previous` and `reason`, so a feature
# app (webhooks) records its reaction atomically with the change and defers side effects to
# on_commit; generation itself never imports those apps.
job_state_changed = Signal()


def job_transition(
    *, job_id, to: str, actor=None, reason: str = "", data: dict | None = None, **fields
) -> GenerationJob | None:
    """Moves the job to `to` if that is allowed from its current state; returns the job, or
    None when the move does not apply (already there, already finished, not allowed)."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().select_related("org").get(pk=job_id)
        if to not in ALLOWED.get(job.state, ()):
            return None
        previous, entered = job.state, job.state_changed_at or job.created_at
        now = timezone.now()
        job.state = to
        job.state_changed_at = now
        for name, value in fields.items():
            setattr(job, name, value)
        if to == State.RUNNING:
            job.started_at = job.started_at or now
            job.heartbeat_at = now
            job.attempts += 1
        if to == State.GATING:
            job.generated_at = now
        if to == State.QUEUED:
            job.claimed_by = ""
        if to in TERMINAL:
            job.finished_at = now
        if to == State.FAILED:
            job.error = reason
        if to in RELEASES_QUOTA:
            job.quota_images = 0
        job.save()
        metrics.job_entered(state=to, previous=previous, seconds=(now - entered).total_seconds())
        audit_append(
            org=job.org,
            actor=actor,
            action=f"generation.{to.lower()}",
            subject=job,
            data={"from": previous, "reason": reason, **(data or {})},
        )
        job_state_changed.send(sender=GenerationJob, job=job, previous=previous, reason=reason)
        job_news_send(job.pk)
    return job


def jobs_claim(*, job_ids, task_id: str) -> list[GenerationJob]:
    """Claims jobs for one GPU run: QUEUED jobs, and RUNNING jobs this same task had claimed
    before (its message was redelivered because the worker running it died)."""
    claimed = []
    for job_id in job_ids:
        with transaction.atomic():
            job = GenerationJob.objects.select_for_update().get(pk=job_id)
            if job.state == State.RUNNING and job.claimed_by == task_id:
                job.attempts += 1
                job.heartbeat_at = timezone.now()
                job.save(update_fields=["attempts", "heartbeat_at"])
                claimed.append(job)
                continue
        job = job_transition(job_id=job_id, to=State.RUNNING, claimed_by=task_id)
        if job is not None:
            claimed.append(job)
    return claimed


AssetState = Asset.State
ASSET_ALLOWED = {
    AssetState.QUARANTINED: {AssetState.IN_REVIEW, AssetState.BLOCKED, AssetState.RELEASED},
    AssetState.IN_REVIEW: {AssetState.RELEASED, AssetState.REJECTED},
}
ASSET_PENDING = frozenset({AssetState.QUARANTINED})


def asset_transition(
    *, asset_id, to: str, actor=None, reason: str = "", data: dict | None = None, **fields
) -> Asset | None:
    """Moves one asset to `to` if allowed from its current state, writes its audit event, and
    settles its job in the same transaction; None when the move does not apply. A release is
    one call: the caller passes the release key and digests as `fields`."""
    with transaction.atomic():
        # The job row first, always in this order: a cancel (which locks the job) and this move
        # cannot interleave, and job_settle below reads sibling assets under the same lock.
        job_id = Asset.objects.filter(pk=asset_id).values_list("job_id", flat=True).get()
        job = GenerationJob.objects.select_for_update().get(pk=job_id)
        if job.state in TERMINAL:
            return None
        asset = Asset.objects.select_for_update().select_related("job__org").get(pk=asset_id)
        if to not in ASSET_ALLOWED.get(asset.state, ()):
            return None
        previous = asset.state
        asset.state = to
        for name, value in fields.items():
            setattr(asset, name, value)
        asset.save()
        if to == AssetState.RELEASED:
            metrics.image_released(model=job.model.name)
        audit_append(
            org=asset.job.org,
            actor=actor,
            action=f"asset.{to.lower()}",
            subject=asset,
            data={"from": previous, "job": str(asset.job_id), "reason": reason, **(data or {})},
        )
        job_settle(job_id=asset.job_id)
    return asset


def job_settle(*, job_id) -> GenerationJob | None:
    """Derives a gated job's state from its assets: still gating while any is quarantined, in
    review while any is held, otherwise released if one was released, else blocked/rejected."""
    states = set(Asset.objects.filter(job_id=job_id).values_list("state", flat=True))
    if not states or states & ASSET_PENDING:
        return None
    if AssetState.IN_REVIEW in states:
        target = State.IN_REVIEW
    elif AssetState.RELEASED in states:
        target = State.RELEASED
    elif AssetState.BLOCKED in states:
        target = State.BLOCKED
    else:
        target = State.REJECTED
    return job_transition(job_id=job_id, to=target, data={"assets": sorted(states)})
