"""The auditor's provenance record of one asset: everything from the prompt to the release, in
one JSON document (job and parameters, model with its datasets and licences, the policy
version and rules, every gate result, the review, the stamp and signing certificate, and the
audit events about the job and the asset with their chain hashes). Read by the provenance API,
the portal, `manage.py verify --record` and the signed export."""

from collections.abc import Iterator

from django.db.models import Q

from audit.models import AuditEvent
from audit.services import event_payload
from generation.controlnets import controlnet_summary
from generation.models import Asset
from generation.posture import model_posture
from generation.selectors import assets_visible
from licensing.models import Dataset, Licence
from moderation.models import GateResult, Review
from orgs.models import Membership
from policies.rules import PolicyRules
from provenance.record import stamp_summary


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def _licence(licence: Licence) -> dict:
    return {
        "key": licence.key,
        "name": licence.name,
        "spdx_id": licence.spdx_id,
        "allows_training": licence.allows_training,
        "allows_commercial": licence.allows_commercial,
        "requires_attribution": licence.requires_attribution,
        "expires_at": _time(licence.expires_at),
    }


def _datasets(datasets) -> list[dict]:
    out = []
    for dataset in datasets.order_by("name"):
        licences = Licence.objects.filter(items__dataset=dataset).distinct().order_by("key")
        items = dataset.items
        out.append(
            {
                "id": str(dataset.pk),
                "name": dataset.name,
                "items": items.count(),
                "opted_out_items": items.filter(consent="opted_out").count(),
                "licences": [_licence(licence) for licence in licences],
            }
        )
    return out


def _gate_result(result: GateResult) -> dict:
    return {
        "gate": result.gate,
        "version": result.gate_version,
        "verdict": result.verdict,
        "reason": result.reason,
        "scores": result.scores,
        "details": result.details,
        "duration_ms": result.duration_ms,
        "at": _time(result.created_at),
    }


def provenance_readable(*, membership: Membership, asset_id) -> Asset:
    """The asset whose record this member (one of PROVENANCE_READERS) may read."""
    # Staff see only their own jobs' assets: anyone else's is a 404 like a missing one.
    return assets_visible(membership=membership).get_for_org(membership.org, pk=asset_id)


def provenance_record(asset: Asset) -> dict:
    job = asset.job
    rules = PolicyRules.model_validate(job.policy.rules)
    posture = model_posture(model=job.model, rules=rules)
    review = Review.objects.filter(asset=asset).select_related("reviewer").first()
    events = AuditEvent.objects.for_org(job.org).filter(
        Q(subject_type="generation.generationjob", subject_id=str(job.pk))
        | Q(subject_type="generation.asset", subject_id=str(asset.pk))
    )
    return {
        "asset": {
            "id": str(asset.pk),
            "index": asset.index,
            "state": asset.state,
            "seed": asset.seed,
            "size": [asset.width, asset.height],
            "generated_sha256": asset.sha256,
            "generated_hashes": {"phash": asset.phash, "dhash": asset.dhash, "whash": asset.whash},
            "created_at": _time(asset.created_at),
        },
        "job": {
            "id": str(job.pk),
            "org": job.org.slug,
            "user": job.user.username,
            "state": job.state,
            "mode": job.mode,
            # The released asset an upscale enlarged (its own record tells its story), or None.
            "parent_asset": str(job.parent_asset_id) if job.parent_asset_id else None,
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "parameters": {
                "width": job.width,
                "height": job.height,
                "steps": job.steps,
                "guidance_scale": job.guidance_scale,
                "scheduler": job.scheduler,
                "strength": job.strength,
                "num_images": job.num_images,
                "seeds": job.seeds,
                "context": job.context,
            },
            "input_image": bool(job.input_image_key),
            "control_image": bool(job.control_image_key),
            "error": job.error,
            "created_at": _time(job.created_at),
            "started_at": _time(job.started_at),
            "generated_at": _time(job.generated_at),
            "finished_at": _time(job.finished_at),
        },
        "model": {
            "id": str(job.model.pk),
            "name": job.model.name,
            "version": job.model.version,
            "family": job.model.family,
            "weights_sha256": job.model.weights_sha256,
            "model_card": job.model.model_card,
            "posture": {"usable": posture.usable, "reasons": posture.reasons},
            "datasets": _datasets(Dataset.objects.filter(models_trained=job.model)),
        },
        # LoRA adapters applied, each with its own training datasets.
        "adapters": [
            {
                **{key: entry[key] for key in ("id", "name", "version", "weight", "sha256")},
                "datasets": _datasets(Dataset.objects.filter(adapters_trained=entry["id"])),
            }
            for entry in job.adapters
        ],
        # The ControlNet that conditioned it (name, version, kind, scale, digest), or None.
        "controlnet": controlnet_summary(job),
        "policy": {"version": job.policy.version, "rules": job.policy.rules},
        "gates": {
            "prompt": [
                _gate_result(r) for r in job.gate_results.filter(asset=None).order_by("created_at")
            ],
            "image": [_gate_result(r) for r in asset.gate_results.order_by("created_at")],
        },
        "review": None
        if review is None
        else {
            "decision": review.decision,
            "reason": review.reason,
            "reviewer": review.reviewer.username,
            "at": _time(review.created_at),
        },
        "stamp": stamp_summary(asset_id=asset.pk, org=job.org),
        "audit_events": [
            {**event_payload(event), "prev_hash": event.prev_hash, "hash": event.hash}
            for event in events.order_by("seq")
        ],
    }


def org_provenance_records(org) -> Iterator[dict]:
    """Every asset's record of one org, oldest first: the records part of the signed export."""
    assets = Asset.objects.for_org(org).select_related("job__org", "job__model", "job__policy")
    for asset in assets.order_by("created_at", "index").iterator():
        yield provenance_record(asset)
