"""What a job and its images look like to the people who asked for them: the API's job and
asset bodies and the portal's job page are both built from these."""

from django.urls import reverse

from generation.models import Asset, GenerationJob
from moderation.api import gate_result_out
from moderation.models import GateResult

JOB_FIELDS = (
    "id",
    "state",
    "prompt",
    "negative_prompt",
    "mode",
    "width",
    "height",
    "steps",
    "guidance_scale",
    "scheduler",
    "strength",
    "num_images",
    "context",
    "callback_url",
    "seeds",
    "error",
    "created_at",
    "started_at",
    "generated_at",
    "finished_at",
)


def asset_summary(asset: Asset) -> dict:
    return {
        "id": asset.id,
        "job": asset.job_id,
        "index": asset.index,
        "seed": asset.seed,
        "state": asset.state,
        "width": asset.width,
        "height": asset.height,
        "sha256": asset.sha256,
        "phash": asset.phash,
        "created_at": asset.created_at,
        # The released asset this one upscales (its job's parent), else None.
        "parent_asset": asset.job.parent_asset_id,
        "gate_results": _latest_results(asset),
        "hold_reasons": _hold_reasons(asset),
        "review": _review_summary(asset),
        "provenance": _stamp_summary(asset),
        **asset_urls(asset),
    }


def asset_urls(asset: Asset) -> dict:
    """Where a client fetches the image and its provenance record, so it need not build the
    paths from the schema; the file only once it is released (before that it is never served)."""
    released = asset.state == Asset.State.RELEASED
    return {
        "file_url": reverse("api:assets_file", kwargs={"asset_id": asset.pk}) if released else None,
        "provenance_url": reverse("api:assets_provenance", kwargs={"asset_id": asset.pk}),
    }


def _latest_results(asset: Asset) -> list[dict]:
    latest = GateResult.latest_per_gate(asset.gate_results.all())
    return [gate_result_out(result) for result in latest.values()]


def _hold_reasons(asset: Asset) -> list[str]:
    """Why the gates held the image for a reviewer (empty when it was never held); kept after
    the review, so an auditor still sees why a reviewer had to decide."""
    hold = getattr(asset, "hold", None)
    return list(hold.reasons) if hold is not None else []


def _review_summary(asset: Asset) -> dict | None:
    review = getattr(asset, "review", None)
    if review is None:
        return None
    return {"decision": review.decision, "reason": review.reason, "at": review.created_at}


def _stamp_summary(asset: Asset) -> dict | None:
    stamp = getattr(asset, "stamp", None)
    if stamp is None or stamp.released_at is None:
        return None
    return {
        "watermark_payload": f"{stamp.payload:x}",
        "watermark_algorithm": stamp.watermark_algorithm,
        "manifest_label": stamp.manifest_label,
        "certificate_serial": stamp.certificate_serial,
        "sha256": stamp.sha256,
        "released_at": stamp.released_at,
    }


def job_summary(job: GenerationJob) -> dict:
    assets = [asset_summary(asset) for asset in job.assets.all()]
    return {
        **{name: getattr(job, name) for name in JOB_FIELDS},
        "user": job.user.username,
        "model": str(job.model),
        "policy_version": job.policy.version,
        "parent_asset": job.parent_asset_id,
        "controlnet": job.controlnet or None,
        "progress": {"step": job.progress_step, "total": job.progress_total},
        # Every distinct reason its images were held for review, for the job's headline.
        "hold_reasons": list(dict.fromkeys(r for a in assets for r in a["hold_reasons"])),
        "assets": assets,
    }
