"""The JSON event a job's callback receives (README "Webhooks" shows one)."""

import json
import uuid

from django.urls import reverse
from django.utils import timezone

from generation.models import GenerationJob
from generation.summaries import asset_urls
from moderation.models import GateResult

State = GenerationJob.State

# The states a job's callback hears about: every end, and the hold for a reviewer.
EVENT_TYPES = {
    State.RELEASED: "job.released",
    State.BLOCKED: "job.blocked",
    State.REJECTED: "job.rejected",
    State.IN_REVIEW: "job.in_review",
    State.FAILED: "job.failed",
    State.CANCELLED: "job.cancelled",
}


def _asset(asset) -> dict:
    latest = GateResult.latest_per_gate(asset.gate_results.all())
    return {
        "id": str(asset.pk),
        "index": asset.index,
        "state": asset.state,
        "sha256": asset.sha256,
        "gates": {gate: result.verdict for gate, result in latest.items()},
        "reasons": [result.reason for result in latest.values() if result.reason],
        **asset_urls(asset),
    }


def event_body(*, job: GenerationJob, previous: str, reason: str) -> tuple[uuid.UUID, str]:
    """The event's id and its JSON text (compact, keys sorted: the bytes that are signed)."""
    event_id = uuid.uuid4()
    assets = job.assets.order_by("index").prefetch_related("gate_results")
    event = {
        "id": str(event_id),
        "type": EVENT_TYPES[job.state],
        "created_at": timezone.now().isoformat(),
        "org": job.org.slug,
        "data": {
            "job": {
                "id": str(job.pk),
                "state": job.state,
                "previous_state": previous,
                "reason": reason,
                "error": job.error,
                "model": str(job.model),
                "mode": job.mode,
                "num_images": job.num_images,
                "created_at": job.created_at.isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "url": reverse("api:generations_get", kwargs={"job_id": job.pk}),
            },
            "assets": [_asset(asset) for asset in assets],
        },
    }
    return event_id, json.dumps(event, sort_keys=True, separators=(",", ":"))
