"""Deciding what leaves quarantine: runs the policy's gates over a job's quarantined assets,
stores and audits every result, applies the one decision function, and hands approved assets
to provenance stamping. Fail closed: an asset whose gates did not all answer, or whose stamping
failed, stays quarantined and the job is retried; after the last retry it ends FAILED."""

from concurrent.futures import Future

import structlog
from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction

from audit.services import audit_append
from generation.adapters import training_dataset_ids
from generation.models import Asset, GenerationJob
from generation.release import asset_release, marking_start
from generation.transitions import asset_transition, job_transition
from mintmark import metrics
from mintmark.imageio import open_image
from moderation.abuse import abuse_record
from moderation.catalogs import training_catalog, training_pixels
from moderation.decision import APPROVE, BLOCK, HOLD, REVIEW, decide
from moderation.gates import GateContext, GateRun, gates_run
from moderation.image_gate import ImageSafetyGate
from moderation.image_safety import ClassifierUnavailable, load_classifier
from moderation.input_check import input_review_reasons
from moderation.memorization import MemorizationGate
from moderation.models import AbuseEvent, GateResult, Hold, Review
from moderation.screening import PROMPT_GATE
from policies.rules import PolicyRules
from provenance.stamping import MarkedImage, StampingError

log = structlog.get_logger(__name__)
State = GenerationJob.State
AssetState = Asset.State


class GatesIncomplete(RuntimeError):
    """Some asset could not be decided or stamped this time; the message says which and why."""


def _image_safety_gate(rules: PolicyRules) -> ImageSafetyGate:
    loaded, unavailable = [], {}
    for name in rules.image_safety.required_classifiers:
        try:
            loaded.append(load_classifier(name, clip_model_dir=settings.CLIP_MODEL_DIR))
        except ClassifierUnavailable as exc:
            unavailable[name] = str(exc)
    return ImageSafetyGate(loaded, unavailable)


def gates_for(rules: PolicyRules, dataset_ids: tuple[str, ...]) -> list:
    """The image gates a policy runs, in order, with what they need loaded (classifiers, the
    training hashes of the model's datasets). Tests replace this to fault a gate."""
    return [
        _image_safety_gate(rules),
        MemorizationGate(training_catalog(dataset_ids), training_pixels),
    ]


def _review_reasons(job: GenerationJob, rules: PolicyRules) -> list[str]:
    reasons = []
    if job.context and job.context in rules.review_contexts:
        reasons.append(f"the deployment context {job.context!r} requires human review")
    prompt = job.gate_results.filter(asset=None, gate=PROMPT_GATE).order_by("-created_at").first()
    if prompt is not None and prompt.verdict == GateResult.Verdict.REVIEW:
        reasons.append(f"prompt: {prompt.reason}")
    reasons.extend(input_review_reasons(job))
    reasons.extend(_ancestor_holds(job))
    return reasons


def _ancestor_holds(job: GenerationJob) -> list[str]:
    """An upscale redraws its parent's pixels (the upscaler adds detail of its own), so a
    parent that a person had to clear, or any asset it was itself upscaled from, sends the
    enlargement to a person too, for the same reasons: otherwise an upscale would be a way
    round the review those reasons asked for."""
    reasons = []
    parent = job.parent_asset
    while parent is not None:
        hold = Hold.objects.filter(asset=parent).first()
        if hold is not None:
            reasons.extend(f"parent asset {parent.pk}: {reason}" for reason in hold.reasons)
        parent = parent.job.parent_asset
    return reasons


def _record(job: GenerationJob, asset: Asset, runs: list[GateRun], decision) -> None:
    for run in runs:
        metrics.gate_decided(gate=run.gate, outcome=run.verdict)
        outcome = run.outcome
        GateResult.objects.create(
            job=job,
            asset=asset,
            gate=run.gate,
            gate_version=run.version,
            verdict=run.verdict,
            reason=outcome.reason if outcome is not None else run.error,
            scores=dict(outcome.scores) if outcome is not None else {},
            details=dict(outcome.details) if outcome is not None else {},
            duration_ms=round(run.duration_ms, 2),
        )
    audit_append(
        org=job.org,
        actor=None,
        action="gates.evaluated",
        subject=asset,
        data={
            "job": str(job.pk),
            "decision": decision.action,
            "reasons": list(decision.reasons),
            "results": [
                {"gate": run.gate, "version": run.version, "verdict": run.verdict} for run in runs
            ],
        },
    )


def _evaluate(job, asset, gates, context, rules, review_reasons) -> str | None:
    """Gates one asset; returns a problem to retry for, or None when it was decided."""
    data = storages["quarantine"].open(asset.quarantine_key).read()
    image, _ = open_image(data)
    # An asset that will go to review anyway is marked when a reviewer approves it.
    marking = None if review_reasons else _marking_start(asset, data)
    runs = gates_run(gates, image, context, timeout_s=settings.GATE_TIMEOUT_S)
    decision = decide(runs, required=[gate.name for gate in gates], review_reasons=review_reasons)
    reason = "; ".join(decision.reasons)
    with transaction.atomic():
        # Another run of this task (a redelivery, or the one a review approval queued) may have
        # decided the asset meanwhile: then this run records nothing and counts nothing.
        job_state = GenerationJob.objects.select_for_update().values_list("state", flat=True)
        asset_state = Asset.objects.select_for_update().values_list("state", flat=True)
        if job_state.get(pk=job.pk) not in (State.GATING, State.IN_REVIEW):
            return None
        if asset_state.get(pk=asset.pk) != AssetState.QUARANTINED:
            return None
        _record(job, asset, runs, decision)
        if decision.action == BLOCK:
            blocking = next(run for run in runs if run.verdict == "block")
            if asset_transition(asset_id=asset.pk, to=AssetState.BLOCKED, reason=reason):
                abuse_record(
                    org=job.org,
                    user=job.user,
                    kind=AbuseEvent.Kind.IMAGE_BLOCKED,
                    category=blocking.gate,
                    rules=rules,
                    job=job,
                    asset=asset,
                )
        elif decision.action == REVIEW:
            if asset_transition(asset_id=asset.pk, to=AssetState.IN_REVIEW, reason=reason):
                Hold.objects.create(asset=asset, reasons=list(decision.reasons))
    if decision.action == HOLD:
        return f"asset {asset.index}: {reason}"
    if decision.action == APPROVE:
        return _release(asset, marking)
    return None


def _marking_start(asset: Asset, data: bytes) -> Future | None:
    try:
        return marking_start(asset, data)
    except StampingError as exc:
        # The release marks the image itself, and reports the failure there if it persists.
        log.warning(
            "marking beside the gates did not start", asset_id=str(asset.pk), error=str(exc)
        )
        return None


def _marked(marking: Future | None) -> MarkedImage | None:
    """The image marked beside the gates, or None: the release then marks it itself, and a
    failure of that (a watermark refused) is reported by the release like any other."""
    if marking is None:
        return None
    try:
        return marking.result(timeout=settings.GATE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the release redoes the marking and reports its failure
        return None


def _release(asset: Asset, marking: Future | None = None) -> str | None:
    try:
        asset_release(asset_id=asset.pk, marked=_marked(marking))
    except StampingError as exc:
        metrics.release_failed(reason="stamping")
        return f"asset {asset.index}: stamping failed: {exc}"
    return None


def job_evaluate(*, job_id) -> None:
    """Gates every quarantined asset of a job and releases approved ones (those approved by a
    reviewer too). Raises GatesIncomplete when something must be tried again."""
    job = (
        GenerationJob.objects.select_related("org", "user", "policy", "model")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        log.warning("job vanished before gating", job_id=str(job_id))
        return
    if job.state not in (State.GATING, State.IN_REVIEW):
        return
    rules = PolicyRules.model_validate(job.policy.rules)
    problems = []
    pending = list(job.assets.filter(state=AssetState.QUARANTINED).order_by("index"))
    if pending:
        datasets = training_dataset_ids(job.model, [entry["id"] for entry in job.adapters])
        gates = gates_for(rules, datasets)
        context = GateContext(
            job_id=str(job.pk), model_id=str(job.model_id), dataset_ids=datasets, rules=rules
        )
        review_reasons = _review_reasons(job, rules)
        for asset in pending:
            problem = _evaluate(job, asset, gates, context, rules, review_reasons)
            if problem:
                problems.append(problem)
    approved = Asset.objects.filter(
        job=job, state=AssetState.IN_REVIEW, review__decision=Review.Decision.APPROVE
    ).order_by("index")
    for asset in approved:
        problem = _release(asset)
        if problem:
            problems.append(problem)
    if problems:
        raise GatesIncomplete("; ".join(problems))


def gating_give_up(*, job_id, reason: str) -> None:
    """After the last retry: the job ends FAILED with the reason; its undecided assets stay
    quarantined (never released). A job that already released some images keeps them and ends
    RELEASED, the reason recorded."""
    released = Asset.objects.filter(job_id=job_id, state=AssetState.RELEASED).exists()
    target = State.RELEASED if released else State.FAILED
    moved = job_transition(
        job_id=job_id, to=target, reason=reason, error=reason, data={"gates_gave_up": True}
    )
    if moved is None:
        return
    with transaction.atomic():
        audit_append(
            org=moved.org,
            actor=None,
            action="gates.gave_up",
            subject=moved,
            data={"reason": reason, "ended": target},
        )


def retry_delay(attempt: int) -> int:
    """Seconds before retry number `attempt` (0-based): exponential, capped at 2**10 times the
    base."""
    return settings.GATE_RETRY_BASE_S * 2 ** min(attempt, 10)
