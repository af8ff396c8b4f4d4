"""The release step: an approved asset is handed to provenance for stamping (watermark, signed
content credentials, fingerprint); only then, in one transaction, is its stamp recorded and the
asset made RELEASED with its file in release storage. Any failure before that leaves the asset
where it was (quarantined or held), which is the fail-closed path."""

import secrets
from concurrent.futures import Future, ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction

from generation.adapters import job_datasets
from generation.controlnets import controlnet_summary
from generation.models import Asset, GenerationJob
from generation.transitions import asset_transition
from generation.upscale import upscale_parent_file
from licensing.models import Licence
from moderation.models import GateResult, Review
from policies.rules import PolicyRules
from provenance.release import (
    ReleaseSubject,
    image_stamp,
    payload_reserve,
    stamp_released,
    watermark_key,
)
from provenance.stamping import MarkedImage, StampingError, image_mark

# Marking an image (watermark, PNG encoding, fingerprint) needs nothing the gates decide, so the
# gating step has it done beside them; a gate worker gates one asset at a time.
_MARKING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mark")


def marking_start(asset: Asset, image: bytes) -> Future:
    """Starts marking a quarantined asset's image in the background, for asset_release to use
    if its gates approve it. The payload is reserved here, in the caller's thread (a database
    write); an asset the gates do not approve keeps an unused reservation, which nothing counts
    as issued (verify only knows payloads of released files)."""
    stamp = payload_reserve(asset.pk)
    return _MARKING.submit(image_mark, image, stamp.payload, watermark_key())


def generation_assertion(asset: Asset, job: GenerationJob) -> dict:
    """The custom assertion: what made this image, under which policy, past which gates."""
    datasets = job_datasets(job)  # the model's and its LoRA adapters'
    # One entry per (dataset, licence) pair, so a reader sees which licence covers which data.
    pairs = (
        Licence.objects.filter(items__dataset__in=datasets)
        .values_list("items__dataset__name", "spdx_id", "name")
        .distinct()
    )
    licences = [
        {"dataset": dataset, "licence": spdx or name} for dataset, spdx, name in sorted(set(pairs))
    ]
    latest = GateResult.latest_per_gate(GateResult.objects.filter(asset=asset))
    verdicts = {gate: result.verdict for gate, result in latest.items()}
    prompt_gate = job.gate_results.filter(asset=None).order_by("-created_at").first()
    if prompt_gate is not None:
        verdicts["prompt"] = prompt_gate.verdict
    review = Review.objects.filter(asset=asset).first()
    return {
        "job": str(job.pk),
        "asset": str(asset.pk),
        "org": job.org.slug,
        "policy_version": job.policy.version,
        "mode": job.mode,
        "seed": asset.seed,
        "gates": verdicts,
        "review": review.decision if review else None,
        "datasets": sorted(dataset.name for dataset in datasets),
        "adapters": [
            {key: entry[key] for key in ("name", "version", "weight", "sha256")}
            for entry in job.adapters
        ],
        "controlnet": controlnet_summary(job),
        "licences": licences,
        # The released asset this one was made from (an upscale), else null.
        "parent_asset": str(job.parent_asset_id) if job.parent_asset_id else None,
    }


def release_subject(asset: Asset, job: GenerationJob) -> ReleaseSubject:
    """Everything stamping needs about one asset, read here so provenance never reads jobs."""
    quarantine = storages["quarantine"]
    # An upscale of a released asset names that asset's signed file as its parent; any other
    # edit names its input image.
    parent = upscale_parent_file(job)
    if parent is None and job.input_image_key:
        parent = (quarantine.open(job.input_image_key).read(), "image/png")
    rules = PolicyRules.model_validate(job.policy.rules)
    return ReleaseSubject(
        asset_id=asset.pk,
        org=job.org,
        image=quarantine.open(asset.quarantine_key).read(),
        model={"name": job.model.name, "version": job.model.version, "family": job.model.family},
        edited=job.mode != GenerationJob.Mode.TEXT_TO_IMAGE,
        generation=generation_assertion(asset, job),
        training_mining=rules.provenance.training_and_mining,
        parent=parent,
        parent_asset=str(job.parent_asset_id) if job.parent_asset_id else None,
    )


def release_approved(asset: Asset) -> bool:
    """A held asset needs a reviewer's approval; a quarantined one needs the newest result of
    every gate that ran on it to be a pass."""
    if asset.state == Asset.State.IN_REVIEW:
        return Review.objects.filter(asset=asset, decision=Review.Decision.APPROVE).exists()
    latest = GateResult.latest_per_gate(GateResult.objects.filter(asset=asset))
    return bool(latest) and all(result.verdict == "pass" for result in latest.values())


def asset_release(*, asset_id, actor=None, marked: MarkedImage | None = None) -> Asset | None:
    """Stamps and releases one approved asset; None when it is not releasable (already
    released, rejected, or its job ended). Raises StampingError when stamping failed. `marked`
    is the image marked while the gates ran (see marking_start), if there is one."""
    asset = Asset.objects.select_related(
        "job__org", "job__model", "job__policy", "job__user", "job__parent_asset"
    ).get(pk=asset_id)
    job = asset.job
    if asset.state not in (Asset.State.QUARANTINED, Asset.State.IN_REVIEW):
        return None
    if job.state not in (GenerationJob.State.GATING, GenerationJob.State.IN_REVIEW):
        return None
    if not release_approved(asset):
        raise StampingError("not approved: its gates did not all pass, or no reviewer approved it")
    stamped = image_stamp(release_subject(asset, job), marked)
    # A name of its own per attempt: a redelivered task racing this one never overwrites or
    # deletes the file of the attempt that won.
    store = storages["release"]
    key = store.save(
        f"{job.org.slug}/{job.pk}/{asset.index}-{secrets.token_hex(4)}.png",
        ContentFile(stamped.signed),
    )
    try:
        with transaction.atomic():
            released = asset_transition(
                asset_id=asset.pk,
                to=Asset.State.RELEASED,
                actor=actor,
                release_key=key,
                data=stamp_released(stamped),
            )
            if released is None:
                # Someone else moved it first (cancelled, rejected): this release does not apply.
                transaction.set_rollback(True)
    except Exception:
        # Not released (the database failed): the retry stores the file again, so this copy
        # must not stay behind as a second one.
        store.delete(key)
        raise
    if released is None:
        store.delete(key)
    return released
